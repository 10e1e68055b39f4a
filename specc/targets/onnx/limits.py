"""What the direct ONNX target cannot write, per layer kind: "reason; fix", or None.

One statement for both sides: the lowerings refuse a layer through :func:`direct_problem`
before writing it (``kinds/base.py``'s ``lower``), and ``specc check`` reads the same function
to tell whether the route ``specc export`` takes can write the layer (``specc/targets/verdict.py``).
So the two cannot disagree.  Imports neither onnx nor numpy: check runs without them.

Every limit is an opset too low for the ops a layer needs, or a configuration the direct
target has no exact form for.  One condition is no limit because the language rules it out:
a size the model reads at run time is always a dim of a graph input (an input's dims are
numbers or bare symbols, and no layer introduces a symbol), which ``Builder.size`` relies on.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

from ...shapes.dims import DimLike, mul
from ...shapes.formulas import conv_out
from ...shapes.tensor import TensorType

# (the layer's resolved attributes, its input types, its output types, the export's opset)
Limit = Callable[[dict[str, Any], Sequence[TensorType], Sequence[TensorType], int], "str | None"]


def _ints(v: Any, n: int) -> list[int]:
    return [int(x) for x in v] if isinstance(v, (list, tuple)) else [int(v)] * n


def _float_dtype(ins: Sequence[TensorType], outs: Sequence[TensorType]) -> str:
    """The float type a layer computes in (as ``Layer.float_dtype``)."""
    return next((t.dtype for t in [*ins, *outs] if t.dtype.startswith(("float", "bfloat"))), "float32")


def _opset(what: str, least: int, opset: int) -> str:
    return (f"the direct target writes {what} with ONNX ops of opset {least} or later, and this export is "
            f"opset {opset}; set export: {{opset: {least}}} or later")


# -- the pools ---------------------------------------------------------------------------------------------------

def ceil_windows(ins: Sequence[DimLike], outs: Sequence[DimLike], k: Sequence[int], s: Sequence[int],
                 p: Sequence[int], d: Sequence[int]) -> tuple[list[int], dict[int, int]] | None:
    """How the direct target gives PyTorch's ceil_mode windows: None where floor mode has as many
    windows at every fixed size; else the right pads, and the spatial axes (from 0) to crop with
    the length kept.  A fixed axis where PyTorch drops the last window (ONNX's shape inference
    would keep it) gets the right pad, or a crop of the unread tail, that ends at its last window."""
    if all(isinstance(n, int) for n in ins) and all(
            o == conv_out(n, ki, si, pi, di) for n, o, ki, si, pi, di in zip(ins, outs, k, s, p, d)):
        return None
    ends, crop = list(p), {}
    for i, (n, o, ki, si, pi, di) in enumerate(zip(ins, outs, k, s, p, d)):
        if not isinstance(n, int) or not isinstance(o, int):
            continue
        span = n + 2 * pi - di * (ki - 1) - 1
        if -(-span // si) + 1 == o:
            continue
        right = (o - 1) * si + di * (ki - 1) + 1 - n - pi  # past the data to the last window's end
        ends[i] = max(right, 0)
        if right < 0:
            crop[i] = n + right
    return ends, crop


def _windows(args: dict[str, Any], ins: Sequence[TensorType]) -> tuple[list[int], ...]:
    r = ins[0].rank - 2
    k = _ints(args["kernel_size"], r)
    s = k if args.get("stride") is None else _ints(args["stride"], r)
    return k, s, _ints(args.get("padding", 0), r), _ints(args.get("dilation", 1), r)


def _max_pool(args: dict[str, Any], ins: Sequence[TensorType], outs: Sequence[TensorType], opset: int) -> str | None:
    k, s, p, d = _windows(args, ins)
    if opset < 10 and (args.get("ceil_mode") or any(di != 1 for di in d)):
        return _opset("ceil_mode and dilation", 10, opset)
    if not args.get("return_indices"):
        return None
    windows = ceil_windows(ins[0].shape[2:], outs[0].shape[2:], k, s, p, d) if args.get("ceil_mode") else None
    if (windows is not None and windows[1]) or any(di > 1 and pi > 0 for di, pi in zip(d, p)):
        return ("the direct target cannot write return_indices where PyTorch's windows need the input cropped or "
                "padded with -inf (ceil_mode dropping a last window, or a dilated window over padding): ONNX's "
                "indices would number the positions of another plane; set ceil_mode: false (or padding: 0 with "
                "a dilation), or return_indices: false")
    return None


def _avg_pool(args: dict[str, Any], ins: Sequence[TensorType], outs: Sequence[TensorType], opset: int) -> str | None:
    if opset >= 11:
        return None
    if opset < 10 and args.get("ceil_mode"):
        return _opset("ceil_mode", 10, opset)
    if _float_dtype(ins, outs) == "float64":  # ONNX Runtime has no double AveragePool: windows as masks
        if any(not isinstance(n, int) for n in (*ins[0].shape[2:], *outs[0].shape[2:])):
            return _opset("a float64 average pool over a symbolic size", 11, opset)
    elif args.get("divisor_override") is not None:
        return _opset("divisor_override", 11, opset)
    return None


def _adaptive_pool(args: dict[str, Any], ins: Sequence[TensorType], outs: Sequence[TensorType],
                   opset: int) -> str | None:
    spatial = ins[0].shape[2:]
    size = args["output_size"]
    sizes = (size,) * len(spatial) if isinstance(size, int) else tuple(size)
    if opset >= 11 or all(o == 1 for o in sizes):
        return None
    # a symbolic axis pooled to more than one cell takes windows computed as the model runs (Range)
    if any(not isinstance(n, int) and o not in (None, 1) for n, o in zip(spatial, sizes)):
        return _opset("an adaptive pool over a symbolic size", 11, opset)
    return None


# -- the others ---------------------------------------------------------------------------------------------------

def _slice(args: dict[str, Any], ins: Sequence[TensorType], outs: Sequence[TensorType], opset: int) -> str | None:
    size = ins[0].shape[args["dim"]]
    if opset < 10 and args["step"] != 1 and not isinstance(size, int):
        return _opset(f"a slice with step {args['step']} along a dim of symbolic size ({size})", 10, opset)
    return None


def _least(what: str, least: int) -> Limit:
    def limit(args: dict[str, Any], ins: Sequence[TensorType], outs: Sequence[TensorType], opset: int) -> str | None:
        return _opset(what, least, opset) if opset < least else None
    return limit


def f32(x: float) -> float:
    """``x`` rounded to float32 (float32 arithmetic is float64's, rounded once: exact for + - * /)."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


def power_of_two(x: float) -> bool:
    f = Fraction(x)
    return all(v & (v - 1) == 0 for v in (f.numerator, f.denominator))


def nearest_resize_exact(scale: float) -> bool:
    """Whether Resize's floor(dst / scale) is PyTorch's floor(dst · float32(1 / scale)) at every dst."""
    if power_of_two(scale):
        return True
    # a whole factor k: dst = j·k lands on j unless float32(1/k) rounds below 1/k
    return Fraction(scale).denominator == 1 and Fraction(f32(1.0 / scale)) >= 1 / Fraction(scale)


def kernel_dependent(n: int, m: int, scale: float) -> bool:
    """Whether PyTorch's 2-D nearest kernel, which copies a dim that keeps its size and halves the
    index of one that doubles, disagrees with the general formula (its other kernels) here."""
    if m not in (n, 2 * n):
        return False
    f = f32(1.0 / scale)
    return any(min(math.floor(f32(i * f)), n - 1) != i // (m // n) for i in range(m))


RESIZE_DTYPES = ("float32", "float16")  # the input types ONNX Runtime has a CPU Resize kernel for


def _upsample(args: dict[str, Any], ins: Sequence[TensorType], outs: Sequence[TensorType], opset: int) -> str | None:
    if opset < 11:
        return _opset("Upsample (ONNX Resize and Range)", 11, opset)
    x, y, scale = ins[0], outs[0], args.get("scale_factor")
    if args["mode"] != "nearest" or x.rank != 4 or scale is None:
        return None
    scales = list(scale) if isinstance(scale, (list, tuple)) else [scale] * 2
    if x.dtype in RESIZE_DTYPES and all(nearest_resize_exact(sc) for sc in scales):
        return None  # written as Resize, which every kernel of PyTorch agrees with
    for axis, (n, m, sc) in enumerate(zip(x.shape[2:], y.shape[2:], scales)):
        if isinstance(n, int) and isinstance(m, int) and kernel_dependent(n, m, sc):
            return (f"PyTorch's 2-D nearest kernel resamples spatial dim {axis} ({n} -> {m}, scale_factor {sc}) one "
                    "way on small tensors and another on large ones, so no single model equals it; give size: "
                    "instead, or a whole-number scale_factor")
    return None


def _time_distributed(args: dict[str, Any], ins: Sequence[TensorType], outs: Sequence[TensorType],
                      opset: int) -> str | None:
    """The wrapped layer's limit, on what it reads: (B·T, ...) of (B, T, ...)."""
    inner = args["layer"]
    x, y = ins[0], outs[0]
    steps = mul(x.shape[0], x.shape[1])
    folded = TensorType((steps, *x.shape[2:]), x.dtype)
    inner_args = {k: v for k, v in args.items() if k != "layer"}
    return direct_problem(inner, inner_args, [folded], [TensorType((steps, *y.shape[2:]), y.dtype)], opset)


LIMITS: dict[str, Limit] = {
    **{f"MaxPool{n}d": _max_pool for n in (1, 2, 3)},
    **{f"AvgPool{n}d": _avg_pool for n in (1, 2, 3)},
    **{f"Adaptive{op}Pool{n}d": _adaptive_pool for op in ("Max", "Avg") for n in (1, 2, 3)},
    "Slice": _slice,
    # Range (a causal mask's positions) and Pad's pads as an input are opset 11's, Slice's bounds as
    # inputs opset 10's
    **{k: _least(k, 11) for k in ("MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
                                  "TransformerDecoderLayer", "TransformerDecoder")},
    "PositionalEncoding": _least("PositionalEncoding", 10),
    # CumSum is opset 11's, GatherND's batch_dims (a row's own index) opset 12's
    "CumSum": _least("CumSum", 11),
    "Sparsemax": _least("Sparsemax", 11),  # its running sums are CumSum, its sort TopK's largest
    "Pick": _least("Pick", 12),
    "RelativePositionBucket": _least("RelativePositionBucket", 11),  # Range
    "ALiBi": _least("ALiBi", 11),
    "CausalMask": _least("CausalMask", 11),  # Range
    # TopK's k as an input is opset 10's, ScatterElements opset 11's
    "MixtureOfExperts": _least("MixtureOfExperts", 11),
    "Upsample": _upsample,
    "TimeDistributed": _time_distributed,
}


def direct_problem(type_name: str, args: dict[str, Any], ins: Sequence[TensorType], outs: Sequence[TensorType],
                   opset: int) -> str | None:
    """Why the direct target cannot write a layer of ``type_name`` with these attributes, input and
    output types at ``opset`` ("reason; fix"), or None."""
    limit = LIMITS.get(type_name)
    return limit(args, ins, outs, opset) if limit is not None else None
