"""A layer's weight under weight_norm or spectral_norm, as PyTorch's eval forward computes it.

The graph holds the tensors PyTorch's state dict holds, under its names, and computes the
weight from them in the graph (ONNX Runtime folds it to a constant when the session loads), so
a checkpoint fills the model tensor for tensor:

- weight_norm: ``parametrizations.weight.original0`` (g) and ``original1`` (v);
  weight = v · (g / ‖v‖), the norm over every dim but ``dim`` (over all of them for dim None),
  as ``torch._weight_norm`` computes it;
- spectral_norm: ``parametrizations.weight.original`` (W) and the buffers ``…weight.0._u`` and
  ``_v``; weight = W / σ with σ = u · (W_mat v), W_mat being W with ``dim`` moved first and the
  rest flattened. In eval mode PyTorch runs no power iteration: σ comes from the stored u, v.

Drawn from the seed, the tensors are what the wrapping function leaves: v is the layer's usual
weight and g its norm (``right_inverse``); u and v are random unit vectors taken through the 15
power iterations ``_SpectralNorm.__init__`` runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ....layers.linear import made_mask
from ....layers.reparam import kernel_mask
from ..weights import Init
from .base import Layer
from .reduce import reduce

# What spectral_norm runs when it wraps the module, before any forward.
_INITIAL_ITERATIONS = 15


@dataclass(frozen=True)
class _Derived(Init):
    """A tensor computed from others already drawn (``rng`` unused, or read by ``of``)."""

    of: Callable[[np.random.Generator], np.ndarray] | None = None

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        assert self.of is not None
        return np.asarray(self.of(rng), dtype=np.float32).reshape(shape)


def _normalize(x: np.ndarray, eps: float) -> np.ndarray:
    """F.normalize of a vector."""
    return x / max(float(np.linalg.norm(x)), eps)


def _matrix(w: np.ndarray, dim: int) -> np.ndarray:
    return np.moveaxis(w, dim, 0).reshape(w.shape[dim], -1)


def weight(layer: Layer, shape: Sequence[int], init: Init, dtype: str | None = None) -> str:
    """The layer's ``weight`` of ``shape`` (drawn as ``init`` draws it), normalised as its args say."""
    shape = tuple(int(s) for s in shape)
    wn, sn = layer.args.get("weight_norm"), layer.args.get("spectral_norm")
    ws, mask = layer.args.get("weight_standardization"), layer.args.get("mask")
    if ws is not None:
        return _standardized(layer, shape, init, ws, dtype or layer.float_dtype)
    made = layer.args.get("made")
    if made is not None:  # MADE's (out, in) mask, a buffer as nflows' MaskedLinear registers it
        grid = np.asarray(made_mask(shape[1], shape[0], made["features"], made["role"]), dtype=np.float32)
        m = layer.param("mask", shape, _Derived("derived", of=lambda _: grid), dtype or layer.float_dtype)
        return layer.op("Mul", [layer.param("weight", shape, init, dtype), m])
    if mask is not None:
        taps = np.asarray(kernel_mask(shape[2:], mask), dtype=np.float32).reshape(1, 1, *shape[2:])
        m = layer.param("mask", shape, _Derived("derived", of=lambda _: np.broadcast_to(taps, shape)),
                        dtype or layer.float_dtype)
        return layer.op("Mul", [layer.param("weight", shape, init, dtype), m])
    if wn is None and sn is None:
        return layer.param("weight", shape, init, dtype)
    t = dtype or layer.float_dtype
    if wn is not None:
        return _weight_norm(layer, shape, init, wn["dim"], t)
    return _spectral_norm(layer, shape, init, sn, t)


def _standardized(layer: Layer, shape: tuple[int, ...], init: Init, ws: dict[str, Any], t: str) -> str:
    """timm's StdConv / ScaledStdConv weight: each output filter standardised over its fan-in (the
    biased variance plus eps, as F.batch_norm in training mode computes it), times gain · gamma /
    sqrt(fan_in) with gain."""
    w = layer.param("weight", shape, init, t)
    flat = layer.op("Reshape", [w, layer.const([shape[0], -1])])
    centred = layer.op("Sub", [flat, reduce(layer, "ReduceMean", flat, [1], keepdims=True)])
    var = reduce(layer, "ReduceMean", layer.op("Mul", [centred, centred]), [1], keepdims=True)
    eps = layer.const(np.asarray(ws["eps"], dtype=np.float32), t)
    out = layer.op("Div", [centred, layer.op("Sqrt", [layer.op("Add", [var, eps])])])
    if ws["gain"]:
        gain = layer.param("gain", (shape[0], *(1,) * (len(shape) - 1)), Init("constant", value=1.0), t)
        scale = layer.const(np.asarray(ws["gamma"] * int(np.prod(shape[1:])) ** -0.5, dtype=np.float32), t)
        out = layer.op("Mul", [out, layer.op("Reshape", [layer.op("Mul", [gain, scale]), layer.const([shape[0], 1])])])
    return layer.op("Reshape", [out, layer.const(list(shape))])


def _weight_norm(layer: Layer, shape: tuple[int, ...], init: Init, dim: int | None, t: str) -> str:
    keep = tuple(1 if i != dim else n for i, n in enumerate(shape)) if dim is not None else ()
    others = [i for i in range(len(shape)) if i != dim]
    v_name = layer.param("parametrizations.weight.original1", shape, init, t)
    v_of: Callable[[], np.ndarray] = lambda: layer.b.initializers[v_name].astype(np.float32)
    g_init = _Derived("derived", of=lambda _: np.sqrt((v_of() ** 2).sum(axis=tuple(others), keepdims=True)))
    g = layer.param("parametrizations.weight.original0", keep, g_init, t)
    norm = reduce(layer, "ReduceL2", v_name, others, keepdims=dim is not None)
    return layer.op("Mul", [v_name, layer.op("Div", [g, norm])])


def _spectral_norm(layer: Layer, shape: tuple[int, ...], init: Init, sn: dict[str, Any], t: str) -> str:
    dim, eps = int(sn["dim"]), float(sn["eps"])
    h = shape[dim]
    w_name = layer.param("parametrizations.weight.original", shape, init, t)
    pair: dict[str, np.ndarray] = {}

    def power(rng: np.random.Generator) -> dict[str, np.ndarray]:
        if not pair:
            mat = _matrix(layer.b.initializers[w_name].astype(np.float32), dim)
            u = _normalize(rng.standard_normal(mat.shape[0]).astype(np.float32), eps)
            v = _normalize(rng.standard_normal(mat.shape[1]).astype(np.float32), eps)
            for _ in range(_INITIAL_ITERATIONS):
                u = _normalize(mat @ v, eps)
                v = _normalize(mat.T @ u, eps)
            pair.update(u=u, v=v)
        return pair

    u = layer.param("parametrizations.weight.0._u", (h,), _Derived("derived", of=lambda r: power(r)["u"]), t)
    v = layer.param("parametrizations.weight.0._v", (int(np.prod(shape)) // h,),
                    _Derived("derived", of=lambda r: power(r)["v"]), t)
    moved = w_name if dim == 0 else layer.op("Transpose", [w_name],
                                             perm=[dim, *(i for i in range(len(shape)) if i != dim)])
    mat = layer.op("Reshape", [moved, layer.const([h, -1])])
    sigma = layer.op("MatMul", [u, layer.op("MatMul", [mat, v])])
    return layer.op("Div", [w_name, sigma])
