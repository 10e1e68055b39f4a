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
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PositiveFloat, PositiveInt

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


class WeightStandardizationParams(LayerParams):
    eps: PositiveFloat = Field(1e-6, description="added to each filter's variance: timm's 1e-6; BiT's "
                               "resnetv2 1e-8, NFNet's 1e-5")
    gain: bool = Field(False, description="ScaledStdConv2d (NFNet, NF-ResNet): a learned gain per output "
                       "channel (started at 1) times gamma / sqrt(fan_in); false is StdConv2d (BiT)")
    gamma: PositiveFloat = Field(1.0, description="with gain: the activation's gamma the scale carries "
                                 "(NFNet's GELU 1.7015043, ReLU 1.7139588)")


# ``weight_standardization: true`` is timm's StdConv2d, a mapping its settings (ScaledStdConv2d with gain)
WeightStandardization = Annotated[WeightStandardizationParams | None, BeforeValidator(_switch),
                                  _BoolOr(WeightStandardizationParams)]
# PixelCNN's masks: A hides the kernel's centre and every later tap in raster order (the first layer,
# which must not see the pixel it predicts); B keeps the centre (every later layer)
MaskType = Literal["A", "B"]
# Every key that computes the weight a layer uses from the one it stores, in the order a message names them
WEIGHT_KEYS = ("weight_norm", "spectral_norm", "weight_standardization", "mask", "made")


def kernel_mask(kernel: tuple[int, ...], kind: str) -> list[int]:
    """PixelCNN's mask of a kernel, flattened in raster order: 1 for the taps before the centre (each
    dim's k // 2), the centre itself only for mask B, 0 after it (van den Oord et al. 2016, as the
    reference implementations zero ``mask[:, :, kH // 2, kW // 2 + (type == 'B'):]`` and the rows below)."""
    centre = 0
    for k in kernel:
        centre = centre * k + k // 2
    keep = centre + (kind == "B")
    return [int(i < keep) for i in range(math.prod(kernel))]


def reparam(p: LayerParams, weight: tuple[int, ...], out_dim: int) -> tuple[dict[str, Any], int, int]:
    """The resolved ``weight_norm`` / ``spectral_norm`` args of a layer whose weight has shape
    ``weight`` (``out_dim``: its output channels' dim, spectral_norm's default), with the
    parameters and buffers they add.  Args are given only for a key that is on, so a layer
    without either has the args it always had."""
    wn, sn = getattr(p, "weight_norm", None) or None, getattr(p, "spectral_norm", None) or None
    ws, mask = getattr(p, "weight_standardization", None) or None, getattr(p, "mask", None)
    rank = len(weight)
    on = [k for k, v in zip(WEIGHT_KEYS, (wn, sn, ws, mask)) if v is not None]
    if len(on) > 1:
        raise SpecError("V051", f"{on[0]} and {on[1]} both rework this layer's weight",
                        "keep one: spectral_norm for a GAN's discriminator (SNGAN, BigGAN), weight_norm for a "
                        "WaveNet, TCN or HiFi-GAN, weight_standardization for BiT or NFNet, mask for PixelCNN",
                        field=on[1])
    if isinstance(ws, WeightStandardizationParams) and ws.gamma != 1.0 and not ws.gain:
        raise SpecError("V166", f"weight_standardization's gamma {ws.gamma:g} scales the weight only with "
                        "gain (timm's ScaledStdConv2d); StdConv2d, gain: false, has no scale",
                        "add gain: true to weight_standardization (NFNet's ScaledStdConv2d), or remove gamma",
                        field="weight_standardization")
    if ws is not None and math.prod(weight) == weight[0]:
        # each filter is standardised over its own values (timm's batch_norm of the (1, filters, fan_in)
        # weight): one value has variance 0, PyTorch raises 'Expected more than 1 value per channel'
        # and the ONNX model's filters would all be 0
        kernel = "x".join(map(str, weight[2:])) or "1"
        raise SpecError("S071", f"weight_standardization standardises each of the {weight[0]} filters over its "
                        f"own values, and each holds one ({weight[1]} input channel per group, kernel {kernel}): "
                        "one value has no spread to divide by", "remove weight_standardization from this layer, or "
                        "give its filters more values: a larger kernel_size or more input channels per group (BiT "
                        "and NFNet standardise convolutions over many channels)", field="weight_standardization")
    if isinstance(ws, WeightStandardizationParams):
        args = {"eps": ws.eps, "gain": ws.gain, **({"gamma": ws.gamma} if ws.gain else {})}
        return {"weight_standardization": args}, weight[out_dim] if ws.gain else 0, 0
    if mask is not None:
        kernel = weight[2:]
        if not any(kernel_mask(kernel, mask)):
            # mask A of a 1-tap kernel zeroes the whole weight: the layer would answer its bias to any input
            size = "x".join(map(str, kernel))
            raise SpecError("V170", f"mask: A hides the kernel's centre and every tap after it, and a {size} kernel "
                            "has no other tap: every weight is zeroed, so the layer ignores its input and outputs "
                            "its bias", "set kernel_size: 3 (PixelCNN's first layer is 7x7 with padding 3; mask A "
                            "keeps the taps before the centre), or use mask: B, which keeps the centre",
                            field="mask")
        # the mask is a buffer of the weight's shape, as the reference implementations register it
        return {"mask": mask}, 0, math.prod(weight)
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
    """The key (weight_norm, spectral_norm, weight_standardization or mask) computing the weight a
    layer with these resolved args uses from the one it stores, or "" for a plain weight."""
    return next((k for k in WEIGHT_KEYS if k in args), "")
