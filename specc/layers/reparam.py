"""Weight normalisation and spectral normalisation of a layer's weight (``weight_norm:``,
``spectral_norm:`` on Linear, the convolutions and, for spectral_norm, Embedding).

Two keys, named as PyTorch's ``torch.nn.utils.parametrizations.weight_norm`` and
``spectral_norm`` (Keras: the ``SpectralNormalization`` wrapper) rather than one
``reparam: weight|spectral`` key: each takes settings of its own (weight_norm a ``dim``,
spectral_norm ``n_power_iterations``, ``eps`` and a ``dim``), written ``true`` or as a mapping,
and a reader of a SNGAN or WaveNet spec finds the name the paper's code uses.

What each does to the counts, as PyTorch builds it: weight_norm replaces the weight by a
magnitude ``g`` (one value per slice along ``dim``, one for the whole tensor with ``dim: null``)
and a direction ``v`` (the weight's shape), so the parameters grow by g's size; spectral_norm
keeps the weight as it is and adds two buffers, the power iteration's ``u`` (the weight's size
along ``dim``) and ``v`` (the rest of it, flattened).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, PositiveFloat, PositiveInt

from ..diagnostics import SpecError
from .base import LayerParams


class WeightNormParams(LayerParams):
    # None: one magnitude for the whole weight (PyTorch's dim=None)
    dim: int | None = 0


class SpectralNormParams(LayerParams):
    n_power_iterations: PositiveInt = 1
    eps: PositiveFloat = 1e-12
    # None: PyTorch's default, the output channels' dim (1 for a transposed conv, else 0)
    dim: int | None = None


def _switch(value: Any) -> Any:
    """``true`` is the settings' defaults and ``false`` none: the mapping's own keys are then
    checked, and reported, one by one (a bool-or-mapping union would report the bool's error)."""
    if value is True:
        return {}
    return None if value is False else value


class _BoolOr:
    """The JSON Schema (editors, `specc schema`) of a ``true | false | mapping`` key, built when a
    schema is asked for: building the settings model's schema at import would cost every
    `specc check` the schema build that ``defer_build`` saves."""

    def __init__(self, model: type[LayerParams]) -> None:
        self.model = model

    def __get_pydantic_json_schema__(self, core: Any, handler: Any) -> dict[str, Any]:
        return {"anyOf": [{"type": "boolean"}, self.model.model_json_schema()]}


# A layer's keys, last among its parameters: ``weight_norm: WeightNorm = False``, off as a
# spec writes it (a default is not validated: it stays False, where an explicit false is None).
WeightNorm = Annotated[WeightNormParams | None, BeforeValidator(_switch), _BoolOr(WeightNormParams)]
SpectralNorm = Annotated[SpectralNormParams | None, BeforeValidator(_switch), _BoolOr(SpectralNormParams)]


def reparam(p: LayerParams, weight: tuple[int, ...], out_dim: int) -> tuple[dict[str, Any], int, int]:
    """The resolved ``weight_norm`` / ``spectral_norm`` args of a layer whose weight has shape
    ``weight`` (``out_dim``: its output channels' dim, spectral_norm's default), with the
    parameters and buffers they add.  Args are given only for a key that is on, so a layer
    without either has the args it always had."""
    wn, sn = getattr(p, "weight_norm", None) or None, getattr(p, "spectral_norm", None) or None
    rank = len(weight)
    if wn is not None and sn is not None:
        raise SpecError("V051", "weight_norm and spectral_norm both reparametrise this layer's weight",
                        "keep one: spectral_norm for a GAN's discriminator (SNGAN, BigGAN), weight_norm for a "
                        "WaveNet, TCN or HiFi-GAN", field="spectral_norm")
    if isinstance(wn, WeightNormParams):
        d = wn.dim
        if d is not None and not 0 <= d < rank:
            # PyTorch reads dim=-1 as "the whole tensor", not as the last dim: a negative dim would
            # silently mean something else than it says.
            fix = f"use dim: {d + rank} (the same dim counted from 0)" if -rank <= d < 0 else \
                f"use a dim from 0 to {rank - 1}"
            raise SpecError("V052", f"weight_norm dim {d} is not a dim of the layer's {rank}-dim weight "
                            f"{tuple(weight)} (weight_norm counts dims from 0; PyTorch reads -1 as the whole "
                            "tensor)", f"{fix}, or dim: null for one magnitude over the whole weight",
                            field="weight_norm")
        g = 1 if d is None else weight[d]
        return {"weight_norm": {"dim": d}}, g, 0
    if isinstance(sn, SpectralNormParams):
        d = out_dim if sn.dim is None else sn.dim
        if not -rank <= d < rank:
            raise SpecError("V052", f"spectral_norm dim {d} is not a dim of the layer's {rank}-dim weight "
                            f"{tuple(weight)}", f"use a dim from 0 to {rank - 1} (dim {out_dim}, its output "
                            "channels, is PyTorch's default)", field="spectral_norm")
        d %= rank
        h = weight[d]
        args = {"spectral_norm": {"n_power_iterations": sn.n_power_iterations, "eps": sn.eps, "dim": d}}
        return args, 0, h + math.prod(weight) // h
    return {}, 0, 0


def normalised(args: dict[str, Any]) -> str:
    """The key (weight_norm or spectral_norm) normalising the weight of a layer with these
    resolved args, or "" for a plain weight."""
    return next((k for k in ("weight_norm", "spectral_norm") if k in args), "")
