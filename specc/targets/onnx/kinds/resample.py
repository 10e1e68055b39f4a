"""ONNX lowering of Upsample (nn.Upsample / F.interpolate), equal to PyTorch's CPU kernels.

Along each spatial dim PyTorch reads source position ``f · (dst + 0.5) - 0.5`` in float32,
rounded once (its CPU build fuses the multiply-add), or ``f · dst`` with align_corners; f is
float32(1 / scale_factor), or in / out for a given size, or (in - 1) / (out - 1) with
align_corners.  nearest takes min(floor(f · dst), in - 1); linear the two neighbours (a
position left of 0 reads element 0); bicubic four with A = -0.75, indices clamped to the input.
Two rules of its kernels come on top: a linear resize copies a dim whose size comes out
unchanged whatever the scale, and the 2-D nearest kernel copies such a dim (and halves the
index of one that doubles) on small tensors only, while its other nearest kernels never do; the
lowering follows the general formula there and refuses a fixed size where that choice matters.

ONNX Resize divides by its scale where PyTorch multiplies by f, and float32 rounding makes the
two read other positions at some sizes: a nearest resize then picks another pixel, and a linear
one weighs the neighbours differently by up to 1e-4, beyond the verification's tolerance next
to zero.  So Resize is written only where its positions are PyTorch's bit for bit (a scale
that is a power of two, a whole-number nearest scale whose float32 reciprocal does not round
down, or fixed sizes checked position by position), with its ``half_pixel`` transform
(PyTorch's, with no special case for an output of one element as ``pytorch_half_pixel`` has) or
``align_corners``.  Every other resize gathers PyTorch's taps along each dim and weighs them:
constants at fixed sizes, computed from the run-time sizes otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from onnx import TensorProto

from ....shapes.dims import DimLike
from ..builder import ELEM
from ..limits import RESIZE_DTYPES, kernel_dependent, nearest_resize_exact, power_of_two
from .base import Layer, lowers
from .opset import dims_of

_LINEAR = {"linear", "bilinear", "trilinear"}
_A = -0.75  # PyTorch's bicubic coefficient (ONNX's default cubic_coeff_a too)
Value = Any  # a float32 numpy array (fixed sizes) or the name of an ONNX value (run-time sizes)


@dataclass
class _Dim:
    """One spatial dim: its axis, sizes in and out, and the scale_factor or size that set it."""

    axis: int
    n: DimLike
    m: DimLike
    scale: float | None  # None when a size was given

    @property
    def fixed(self) -> bool:
        return isinstance(self.n, int) and isinstance(self.m, int)


@lowers("Upsample")
def upsample(layer: Layer) -> str:
    a = layer.args
    # limits.py refuses Upsample below opset 11 (Resize and Range)
    rank = layer.in_type.rank
    scales = _per_dim(a["scale_factor"], rank - 2)
    dims = [_Dim(axis, n, m, scales[axis - 2] if scales else None)
            for axis, n, m in zip(range(2, rank), layer.in_type.shape[2:], layer.out.shape[2:])]
    mode, align = a["mode"], bool(a["align_corners"])
    native = _native(layer, dims, mode, align)
    if native is not None:
        return native
    x = layer.x
    for d in dims:
        if d.fixed and d.n == d.m and (mode in _LINEAR or (mode == "nearest" and d.scale is None)):
            continue  # copied (a nearest resize to the same size reads every element where it is)
        assert not (mode == "nearest" and rank == 4 and d.fixed and d.scale is not None
                    and kernel_dependent(int(d.n), int(d.m), d.scale)), "limits.py refuses PyTorch's 2-D nearest case"
        taps = _taps(layer, d, mode, align)
        if d.axis < rank - 1:
            x = _weigh(layer, x, d.axis, taps)
            continue
        # ONNX Runtime gathers whole rows many times faster than single elements of the last axis
        swap = [*range(rank - 2), rank - 1, rank - 2]
        x = layer.op("Transpose", [_weigh(layer, layer.op("Transpose", [x], perm=swap), rank - 2, taps)], perm=swap)
    return x


def _native(layer: Layer, dims: list[_Dim], mode: str, align: bool) -> str | None:
    """Resize, where it reads PyTorch's positions along every dim and ONNX Runtime has a kernel
    for the input's type; else None."""
    if layer.in_type.dtype not in RESIZE_DTYPES:  # float64 gathers instead
        return None
    if mode == "nearest":
        if any(d.scale is None or not nearest_resize_exact(d.scale) for d in dims):
            return None
        return _resize(layer, [np.float32(d.scale) for d in dims], mode="nearest",
                       coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    exact = _linear_resize_scales(dims, mode, align)
    if exact is None:
        return None
    attrs = {"mode": "linear" if mode in _LINEAR else "cubic",
             "coordinate_transformation_mode": "align_corners" if align else "half_pixel"}
    if mode == "bicubic":
        attrs["cubic_coeff_a"] = _A
    given = [int(d.m) for d in dims] if dims[0].scale is None else None
    return _resize(layer, exact, sizes=given, **attrs)


def _per_dim(v: Any, n: int) -> list[Any] | None:
    if v is None:
        return None
    return list(v) if isinstance(v, (list, tuple)) else [v] * n


# -- where ONNX Resize reads PyTorch's positions ---------------------------------------------------

def _linear_resize_scales(dims: list[_Dim], mode: str, align: bool) -> list[np.float32] | None:
    """Resize's scales where its source positions are PyTorch's along every dim, else None."""
    out = []
    for d in dims:
        if d.fixed and d.n == d.m and mode in _LINEAR:
            out.append(np.float32(1.0))  # PyTorch copies the dim; Resize reads x at x with scale 1
            continue
        if not d.fixed:
            if align or d.scale is None or not power_of_two(d.scale):
                return None
            out.append(np.float32(d.scale))
            continue
        n, m = int(d.n), int(d.m)
        r = _fit(d.scale, n, m) if d.scale is not None else np.float32(m) / np.float32(n)
        if r is None:
            return None
        dst = np.arange(m, dtype=np.float32)
        if align:
            f = np.float32(n - 1) / np.float32(m - 1) if m > 1 else np.float32(0)
            ours, theirs = dst * f, (dst * np.float32(n - 1)) / np.float32(max(m - 1, 1))
        else:
            ours = _Float32(None).fma(_factor(d), dst + np.float32(0.5), -0.5)
            theirs = (dst + np.float32(0.5)) / r - np.float32(0.5)
        if not np.array_equal(ours, theirs):
            return None
        out.append(r)
    return out


def _fit(scale: float, d_in: int, d_out: int) -> np.float32 | None:
    """The float32 scale nearest ``scale`` that sizes ``d_in`` to PyTorch's ``d_out`` both in ONNX
    Runtime (floor of the float32 product) and in ONNX shape inference (which rounds the product
    otherwise); None if a few ulps do not reach one."""
    s = np.float32(scale)
    for _ in range(64):
        got = {math.floor(np.float32(s * np.float32(d_in))), math.floor(float(s) * d_in)}
        if got == {d_out}:
            return s
        s = np.nextafter(s, np.float32(0 if max(got) > d_out else np.inf), dtype=np.float32)
    return None


def _resize(layer: Layer, scales: list[np.float32], *, sizes: list[int] | None = None, **attrs: Any) -> str:
    """Resize of the spatial dims by ``scales``, or to ``sizes`` where a size was given (batch and
    channels kept)."""
    empty = layer.const(np.zeros(0, np.float32), "float32")
    roi = "" if layer.b.opset >= 13 else empty  # optional inputs are named empty before opset 13
    if sizes is None:
        return layer.op("Resize", [layer.x, roi, layer.const([1.0, 1.0, *scales], "float32")], **attrs)
    full = layer.op("Concat", [dims_of(layer, layer.x, 0, 2), layer.const(sizes)], axis=0)
    return layer.op("Resize", [layer.x, roi, "" if layer.b.opset >= 13 else empty, full], **attrs)


# -- PyTorch's taps, gathered --------------------------------------------------------------------------

class _Float32:
    """float32 arithmetic on the index vectors of one dim: numpy at fixed sizes, ONNX nodes at
    run-time sizes (python floats are constants in either)."""

    def __init__(self, layer: Layer | None) -> None:
        self.layer = layer

    def value(self, a: Value | float) -> Value:
        if not isinstance(a, float):
            return a
        return np.float32(a) if self.layer is None else self.layer.const(a, "float32")

    def _bin(self, op: str, fn: Callable[[Any, Any], Any], a: Value | float, b: Value | float) -> Value:
        if self.layer is None:
            return np.asarray(fn(self.value(a), self.value(b)), dtype=np.float32)
        return self.layer.op(op, [self.value(a), self.value(b)])

    def add(self, a: Value | float, b: Value | float) -> Value:
        return self._bin("Add", np.add, a, b)

    def sub(self, a: Value | float, b: Value | float) -> Value:
        return self._bin("Sub", np.subtract, a, b)

    def mul(self, a: Value | float, b: Value | float) -> Value:
        return self._bin("Mul", np.multiply, a, b)

    def min(self, a: Value | float, b: Value | float) -> Value:
        return self._bin("Min", np.minimum, a, b)

    def max(self, a: Value | float, b: Value | float) -> Value:
        return self._bin("Max", np.maximum, a, b)

    def clamp(self, a: Value, low: Value | float, high: Value | float) -> Value:
        return self.min(self.max(a, low), high)

    def fma(self, a: Value | float, b: Value | float, c: float) -> Value:
        """a·b + c rounded once, as the fused multiply-add PyTorch's CPU kernels compile to (the
        product of two float32s is exact in float64)."""
        if self.layer is None:
            return np.asarray(np.float64(self.value(a)) * np.float64(self.value(b)) + c, dtype=np.float32)
        a64, b64 = (self.layer.op("Cast", [self.value(v)], to=TensorProto.DOUBLE) for v in (a, b))
        exact = self.layer.op("Add", [self.layer.op("Mul", [a64, b64]), self.layer.const(c, "float64")])
        return self.layer.op("Cast", [exact], to=TensorProto.FLOAT)

    def floor(self, a: Value) -> Value:
        return np.floor(a) if self.layer is None else self.layer.op("Floor", [a])


def _factor(d: _Dim, align: bool = False) -> np.float32:
    """PyTorch's float32 factor from output to input position, at fixed sizes."""
    n, m = int(d.n), int(d.m)
    if align:
        return np.float32(n - 1) / np.float32(m - 1) if m > 1 else np.float32(0)
    return np.float32(1.0 / d.scale) if d.scale is not None else np.float32(n) / np.float32(m)


def _taps(layer: Layer, d: _Dim, mode: str, align: bool) -> list[tuple[Value, Value | None]]:
    """(source index, weight) pairs of dim ``d`` as PyTorch computes them, one per tap (nearest
    has one, unweighted); indices as float32, whole and within the input."""
    if d.fixed:
        ops = _Float32(None)
        dst: Value = np.arange(int(d.m), dtype=np.float32)
        last: Value = float(int(d.n) - 1)
        f: Value = _factor(d, align and mode != "nearest")
        same = None
    else:
        ops = _Float32(layer)
        n = dims_of(layer, layer.x, d.axis, d.axis + 1)
        m = (_scaled(layer, n, d.scale) if d.scale is not None else layer.const([d.m]) if isinstance(d.m, int)
             else dims_of(layer, layer.inputs[1], d.axis, d.axis + 1))  # the second input's size (from: [x, like])
        dst = layer.op("Cast", [layer.op("Range", [layer.const(0), layer.op("Reshape", [m, layer.const(
            np.zeros(0, np.int64))]), layer.const(1)])], to=TensorProto.FLOAT)
        n_f, m_f = (layer.op("Cast", [v], to=TensorProto.FLOAT) for v in (n, m))
        last = ops.sub(n_f, 1.0)
        if align and mode != "nearest":  # (n - 1) / (m - 1), and 0 for an output of one element
            ratio = layer.op("Div", [last, ops.sub(m_f, 1.0)])
            f = layer.op("Where", [layer.op("Greater", [m_f, ops.value(1.0)]), ratio, ops.value(0.0)])
        else:
            f = ops.value(float(np.float32(1.0 / d.scale))) if d.scale is not None else layer.op("Div", [n_f, m_f])
        # PyTorch's linear kernels copy a dim that keeps its size; with a scale in (1, 1.5) it can
        same = layer.op("Equal", [n, m]) if mode in _LINEAR and d.scale is not None and 1 < d.scale < 1.5 else None
    if mode == "nearest":
        return [(ops.min(ops.floor(ops.mul(dst, f)), last), None)]
    src = ops.mul(f, dst) if align else ops.fma(f, ops.add(dst, 0.5), -0.5)
    if mode in _LINEAR:
        if not align:
            src = ops.max(src, 0.0)
        i0 = ops.min(ops.floor(src), last)
        l1 = ops.clamp(ops.sub(src, i0), 0.0, 1.0)
        if same is not None:
            i0 = layer.op("Where", [same, dst, i0])
            l1 = layer.op("Where", [same, ops.value(0.0), l1])
        return [(i0, ops.sub(1.0, l1)), (ops.min(ops.add(i0, 1.0), last), l1)]
    i0 = ops.min(ops.floor(src), last)
    t = ops.clamp(ops.sub(src, i0), 0.0, 1.0)
    rest = ops.sub(1.0, t)
    weights = [_cubic2(ops, ops.add(t, 1.0)), _cubic1(ops, t), _cubic1(ops, rest), _cubic2(ops, ops.add(rest, 1.0))]
    return [(ops.clamp(ops.add(i0, float(k - 1)), 0.0, last), w) for k, w in enumerate(weights)]


def _cubic1(ops: _Float32, x: Value) -> Value:
    """((A + 2)·x - (A + 3))·x·x + 1, PyTorch's weight of the two inner taps."""
    return ops.add(ops.mul(ops.mul(ops.sub(ops.mul(x, _A + 2), _A + 3), x), x), 1.0)


def _cubic2(ops: _Float32, x: Value) -> Value:
    """((A·x - 5A)·x + 8A)·x - 4A, PyTorch's weight of the two outer taps."""
    return ops.sub(ops.mul(ops.add(ops.mul(ops.sub(ops.mul(x, _A), 5 * _A), x), 8 * _A), x), 4 * _A)


def _weigh(layer: Layer, x: str, axis: int, taps: list[tuple[Value, Value | None]]) -> str:
    """Σ x gathered at each tap's indices along ``axis``, times its weight; half-precision
    inputs are weighed in float32 and rounded once, as PyTorch does."""
    trailing = layer.in_type.rank - 1 - axis
    dtype = layer.float_dtype
    acc = "float32" if dtype in ("float16", "bfloat16") else dtype
    total = None
    for index, weight in taps:
        if isinstance(index, np.ndarray):
            index = layer.const(index.astype(np.int64))
        else:
            index = layer.op("Cast", [index], to=TensorProto.INT64)
        y = layer.op("Gather", [x, index], axis=axis)
        if weight is None:
            return y
        if acc != dtype:
            y = layer.op("Cast", [y], to=ELEM[acc])
        if isinstance(weight, np.ndarray):
            weight = layer.const(weight.reshape(-1, *[1] * trailing), acc)
        else:
            weight = layer.op("Reshape", [weight, layer.const([-1] + [1] * trailing)])
            if acc != "float32":
                weight = layer.op("Cast", [weight], to=ELEM[acc])
        y = layer.op("Mul", [y, weight])
        total = y if total is None else layer.op("Add", [total, y])
    assert total is not None
    return total if acc == dtype else layer.op("Cast", [total], to=ELEM[dtype])


def _scaled(layer: Layer, n: str, scale: float) -> str:
    """floor(n · scale) at run time; a symbolic size has a scale of at most 8 fraction bits, so the
    integer product is exact."""
    exact = Fraction(scale)
    return layer.op("Div", [layer.op("Mul", [n, layer.const([exact.numerator])]), layer.const([exact.denominator])])
