"""ONNX lowering of the pools: MaxPool/AveragePool for the sliding windows, global and uniform
adaptive pools as ONNX's pooling ops, and uneven adaptive windows as a mask over each axis.

Sliding pools with ``ceil_mode``: ONNX Runtime takes PyTorch's windows (it too drops a last
window that would start inside the right padding), but ONNX's shape inference does not, so a
fixed size where the two differ gets pads (or a crop) that make the window count exact in
both modes, and the model's inferred shapes stay specc's.

Adaptive pools follow PyTorch's windows, cell ``i`` of ``o`` over ``n`` reading
``[floor(i·n/o), ceil((i+1)·n/o))``; pooling is separable, so each axis is pooled on its own.
An axis pooled to 1 is a reduction and one that divides evenly a pool with kernel = stride,
at any size; other windows are a mask of shape (o, n), a constant at a fixed size and
computed from the input's shape as the model runs at a symbolic one.

ONNX Runtime has no double AveragePool or global pools on CPU: in float64 the averages take the
masks (a sliding average is separable too, PyTorch dividing by one count per axis multiplied)
and the global pools are reductions.

A MaxPool's indices (``return_indices``): ONNX numbers them over the whole tensor,
((n·C + c)·H + h)·W + w, where PyTorch numbers them within each plane, h·W + w, so they are
taken modulo the plane's size.  MaxUnpool is written as PyTorch computes it, a scatter of each
plane's values to their indices within a plane of the output's size (ScatterElements into
zeros), rather than as ONNX's MaxUnpool, which reads whole-tensor indices and sizes its output
by its own rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from onnx import numpy_helper

from ....shapes.dims import DimLike, add, mul, product
from ..builder import ELEM, attr_ints
from ..limits import ceil_windows
from .base import Layer, lowers
from .opset import unsqueeze

_MAX = ("MaxPool1d", "MaxPool2d", "MaxPool3d")
_AVG = ("AvgPool1d", "AvgPool2d", "AvgPool3d")
_ADAPTIVE = tuple(f"Adaptive{op}Pool{r}d" for op in ("Avg", "Max") for r in (1, 2, 3))


@lowers(*_MAX, *_AVG)
def window_pool(layer: Layer) -> str | list[str]:
    a, r = layer.args, layer.in_type.rank - 2
    k = attr_ints(a["kernel_size"], r)
    s = k if a["stride"] is None else attr_ints(a["stride"], r)
    p = attr_ints(a["padding"], r)
    d = attr_ints(a.get("dilation", 1), r)
    # limits.py has refused ceil_mode and dilation below opset 10
    is_max = layer.kind in _MAX
    if not is_max and layer.float_dtype == "float64":
        return _float64_avg_pool(layer, k, s, p)
    if not is_max and a.get("divisor_override") is not None:
        return _sum_pool(layer, k, s, p, int(a["divisor_override"]))
    x, pads, ceil = _ceil_windows(layer, k, s, p, d) if a["ceil_mode"] else (layer.x, p + p, 0)
    if is_max and any(di > 1 and pi > 0 for di, pi in zip(d, p)):
        # A dilated window can hold padding alone (L=1, kernel 2, dilation 2, padding 1): PyTorch
        # gives -inf there, ONNX Runtime the lowest float. The left padding, written as -inf values,
        # is in every such window; the right stays a pad, so ceil_mode drops the same windows.
        t = layer.float_dtype
        x = layer.op("Pad", [x, layer.const([0, 0, *p, 0, 0, *[0] * r]), layer.const(-np.inf, t)], mode="constant") \
            if layer.b.opset >= 11 else layer.op("Pad", [x], pads=[0, 0, *p, 0, 0, *[0] * r], value=float("-inf"))
        pads = [0] * r + pads[r:]
    attrs: dict[str, Any] = {"kernel_shape": k, "strides": s, "pads": pads}
    if layer.b.opset >= 10:
        attrs["ceil_mode"] = ceil
    if is_max:
        attrs["dilations"] = d if any(di != 1 for di in d) else None
        return _with_indices(layer, x, attrs) if a.get("return_indices") else layer.op("MaxPool", [x], **attrs)
    return layer.op("AveragePool", [x], count_include_pad=int(a["count_include_pad"]), **attrs)


def _with_indices(layer: Layer, x: str, attrs: dict[str, Any]) -> list[str]:
    """The values and PyTorch's indices: ONNX's modulo the plane.  Only over the input as it is: a
    crop or a -inf pad (ceil_mode's dropped window, a dilated window of padding alone) would number
    the positions of another plane."""
    assert x == layer.x, "limits.py refuses return_indices over a cropped or -inf padded input"
    values, flat = layer.op("MaxPool", [x], outputs=2, **attrs)
    return [values, layer.op("Mod", [flat, layer.size(product(layer.in_type.shape[2:]))])]


@lowers("MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d")
def max_unpool(layer: Layer) -> str:
    values, indices = layer.inputs[:2]
    n, c, *size = layer.out.shape
    planes = layer.shape([n, c, -1])
    zeros = layer.op("ConstantOfShape", [layer.shape([n, c, product(size)])],
                     value=numpy_helper.from_array(np.zeros(1, dtype=layer.float_dtype)))
    scattered = layer.op("ScatterElements", [zeros, layer.op("Reshape", [indices, planes]),
                                             layer.op("Reshape", [values, planes])], axis=2)
    return layer.op("Reshape", [scattered, layer.shape(layer.out.shape)])


def _ceil_windows(layer: Layer, k: list[int], s: list[int], p: list[int], d: list[int]
                  ) -> tuple[str, list[int], int]:
    """The input, pads and ceil_mode attribute that give PyTorch's ceil_mode windows: floor mode
    where it is exact, else ceil_mode 1 with ``limits.ceil_windows``' right pads and crops, so
    the division is exact and both modes count the same windows."""
    windows = ceil_windows(layer.in_type.shape[2:], layer.out.shape[2:], k, s, p, d)
    if windows is None:
        return layer.x, p + p, 0
    ends, crop = windows
    x = layer.x
    if crop:
        axes = sorted(crop)
        x = layer.op("Slice", [x, layer.const([0] * len(axes)), layer.const([crop[ax] for ax in axes]),
                               layer.const([ax + 2 for ax in axes])])
    return x, p + ends, 1


def _sum_pool(layer: Layer, k: list[int], s: list[int], p: list[int], divisor: int) -> str:
    """PyTorch's divisor_override: the window's sum (zeros read in the padding) over ``divisor``.

    The input is zero-padded until the last window (ceil_mode's partial one included) is whole,
    so every window of a plain average holds the kernel's count and the sum is that times it."""
    ins, outs, r = layer.in_type.shape[2:], layer.out.shape[2:], len(k)
    assert layer.b.opset >= 11, "limits.py refuses divisor_override below opset 11"
    # the padded length the windows read, (o-1)·s + k, less the data and the left pad; a
    # negative amount crops a tail that no window reads
    rights = [add(add(mul(o, si), ki - si - pi), mul(n, -1)) for n, o, ki, si, pi in zip(ins, outs, k, s, p)]
    pads = layer.shape([0, 0, *p, 0, 0, *rights])
    t = layer.float_dtype
    padded = layer.op("Pad", [layer.x, pads, layer.const(0.0, t)], mode="constant")
    mean = layer.op("AveragePool", [padded], kernel_shape=k, strides=s, pads=[0] * (2 * r), count_include_pad=1)
    return layer.op("Mul", [mean, layer.const(float(np.prod(k)) / divisor, t)])


@lowers(*_ADAPTIVE)
def adaptive_pool(layer: Layer) -> str:
    ins, r = layer.in_type.shape[2:], layer.in_type.rank - 2
    size = layer.args["output_size"]
    outs: Sequence[int | None] = (size,) * r if isinstance(size, int) else tuple(size)
    is_max = layer.kind.startswith("AdaptiveMax")
    if all(o == 1 for o in outs):
        return _global(layer, is_max, keepdims=1)
    x = layer.x
    # evenly divided fixed axes: one pooling op with kernel = stride = n/o (but ONNX Runtime has
    # no double AveragePool on CPU, so float64 takes the masks)
    pools = is_max or layer.float_dtype != "float64"
    kernel = [n // o if pools and isinstance(n, int) and o is not None and o != 1 and n != o and n % o == 0 else 1
              for n, o in zip(ins, outs)]
    if any(ki != 1 for ki in kernel):
        x = layer.op("MaxPool" if is_max else "AveragePool", [x], kernel_shape=kernel, strides=kernel)
    reduce_axes = [i + 2 for i, (n, o) in enumerate(zip(ins, outs)) if o == 1 and n != 1]
    if reduce_axes:
        x = _reduce(layer, "ReduceMax" if is_max else "ReduceMean", x, reduce_axes, keepdims=1)
    for i, (n, o) in enumerate(zip(ins, outs)):
        if o is None or o == 1 or n == o or kernel[i] != 1:
            continue
        x = _masked_axis(layer, x, i + 2, n, o, is_max)
    return x


def _masked_axis(layer: Layer, x: str, axis: int, n: DimLike, o: int, is_max: bool) -> str:
    """Pool ``axis`` (size ``n``) to ``o`` cells with PyTorch's adaptive windows: cell ``i``
    reads ``[floor(i·n/o), ceil((i+1)·n/o))``."""
    if isinstance(n, int):
        cell = np.arange(o)
        lo, hi = cell * n // o, ((cell + 1) * n + o - 1) // o
        return _window_axis(layer, x, axis, n, o, lo, hi, hi - lo, is_max)
    size = _runtime_windows(layer, n)
    cell = layer.const(np.arange(o).reshape(o, 1))
    lo = layer.op("Div", [layer.op("Mul", [cell, size]), layer.const(o)])
    hi = layer.op("Div", [layer.op("Add", [layer.op("Mul", [layer.const(np.arange(1, o + 1).reshape(o, 1)), size]),
                                           layer.const(o - 1)]), layer.const(o)])
    return _window_axis(layer, x, axis, n, o, lo, hi, layer.op("Sub", [hi, lo]), is_max)


def _float64_avg_pool(layer: Layer, k: list[int], s: list[int], p: list[int]) -> str:
    """A sliding average as masks, axis by axis (ONNX Runtime has no double AveragePool on CPU).
    PyTorch divides by a product of one count per axis, so the average is separable: cell ``i``
    starts at ``i·s - p``, reads the data in ``[start, start + k)`` and divides by the window
    clipped to the padded input (count_include_pad) or to the data; with divisor_override by 1,
    then by the override."""
    include_pad, override = layer.args["count_include_pad"], layer.args.get("divisor_override")
    x = layer.x
    for i, (n, o, ki, si, pi) in enumerate(zip(layer.in_type.shape[2:], layer.out.shape[2:], k, s, p)):
        if isinstance(n, int) and isinstance(o, int):
            start = np.arange(o) * si - pi
            lo, hi = np.maximum(start, 0), np.minimum(start + ki, n)
            if override:
                count = np.ones(o, np.int64)
            else:
                count = np.minimum(start + ki, n + pi) - start if include_pad else hi - lo
            x = _window_axis(layer, x, i + 2, n, o, lo, hi, count, False)
            continue
        size = _runtime_windows(layer, n)
        cells = layer.op("Range", [layer.const(0), _scalar(layer, layer.size(o)), layer.const(1)])
        start = layer.op("Sub", [layer.op("Mul", [unsqueeze(layer, cells, [1]), layer.const(si)]), layer.const(pi)])
        end = layer.op("Add", [start, layer.const(ki)])
        lo, hi = _larger(layer, start, layer.const(0)), _smaller(layer, end, size)
        count = layer.op("Sub", [hi, lo])
        if override:
            count = layer.const(np.ones((1, 1), np.int64))
        elif include_pad:
            count = layer.op("Sub", [_smaller(layer, end, layer.op("Add", [size, layer.const(pi)])), start])
        x = _window_axis(layer, x, i + 2, n, o, lo, hi, count, False)
    return layer.op("Mul", [x, layer.const(1 / override, layer.float_dtype)]) if override else x


def _runtime_windows(layer: Layer, n: DimLike) -> str:
    assert layer.b.opset >= 11, "limits.py refuses windows over a symbolic size below opset 11 (Range)"
    return layer.size(n)


def _window_axis(layer: Layer, x: str, axis: int, n: DimLike, o: DimLike, lo: Any, hi: Any, count: Any,
                 is_max: bool) -> str:
    """Pool ``axis`` (size ``n``) into ``o`` cells, cell ``i`` reading positions ``[lo_i, hi_i)``
    divided by ``count_i`` (an average) or their max: a mask (o, n) broadcast against the input
    with a new axis for the cells before ``axis``, then reduced over ``axis``. The bounds are
    numpy arrays (o,) at a fixed size, else int64 values (o, 1) computed as the model runs."""
    t, rank = layer.float_dtype, layer.in_type.rank
    rest = [1] * (rank - axis - 1)  # the mask's trailing 1s broadcast over the dims after ``axis``
    if isinstance(lo, np.ndarray):
        assert isinstance(n, int) and isinstance(o, int)
        pos = np.arange(n)
        inside = (pos[None, :] >= lo[:, None]) & (pos[None, :] < hi[:, None])
        mask = layer.const(inside.reshape(o, n, *rest), "bool") if is_max else \
            layer.const((inside / count[:, None]).reshape(o, n, *rest), t)
    else:
        size = layer.size(n)
        pos = layer.op("Range", [layer.const(0), _scalar(layer, size), layer.const(1)])
        inside = layer.op("And", [layer.op("Not", [layer.op("Less", [pos, lo])]), layer.op("Less", [pos, hi])])
        if not is_max:
            inside = layer.op("Div", [layer.op("Cast", [inside], to=ELEM[t]), layer.op("Cast", [count], to=ELEM[t])])
        mask = layer.op("Reshape", [inside, layer.shape([o, n, *rest])]) if rest else inside
    cells = unsqueeze(layer, x, [axis])  # (..., 1, n, ...) against the mask's (o, n, 1, ...)
    if is_max:
        low = layer.const(-np.inf, t)
        return _reduce(layer, "ReduceMax", layer.op("Where", [mask, cells, low]), [axis + 1], keepdims=0)
    return _reduce(layer, "ReduceSum", layer.op("Mul", [cells, mask]), [axis + 1], keepdims=0)


def _scalar(layer: Layer, size: str) -> str:
    return layer.op("Reshape", [size, layer.const([])])


def _smaller(layer: Layer, a: str, b: str) -> str:
    # Where, not Min: Min takes int64 only from opset 12
    return layer.op("Where", [layer.op("Less", [a, b]), a, b])


def _larger(layer: Layer, a: str, b: str) -> str:
    return layer.op("Where", [layer.op("Less", [a, b]), b, a])


@lowers("GlobalAvgPool", "GlobalMaxPool")
def global_pool(layer: Layer) -> str:
    return _global(layer, layer.kind == "GlobalMaxPool", keepdims=int(layer.args["keepdim"]))


def _global(layer: Layer, is_max: bool, keepdims: int) -> str:
    if layer.float_dtype == "float64":  # ONNX Runtime has no double GlobalAveragePool/GlobalMaxPool on CPU
        axes = list(range(2, layer.in_type.rank))
        return _reduce(layer, "ReduceMax" if is_max else "ReduceMean", layer.x, axes, keepdims)
    pooled = layer.op("GlobalMaxPool" if is_max else "GlobalAveragePool", [layer.x])
    # (N, C, 1, …) -> (N, C): every dim after C is 1
    return pooled if keepdims else layer.op("Flatten", [pooled], axis=1)


def _reduce(layer: Layer, op: str, x: str, axes: list[int], keepdims: int) -> str:
    # axes became an input in opset 13 for ReduceSum and in opset 18 for the others
    if layer.b.opset >= (13 if op == "ReduceSum" else 18):
        return layer.op(op, [x, layer.const(axes)], keepdims=keepdims)
    return layer.op(op, [x], axes=axes, keepdims=keepdims)


