"""ONNX lowering of the index family: ArgMax/ArgMin, CumSum, Compare (Equal, Greater, Less, …), Pick
(GatherND over the rows) and MaskedFill (Where).

ONNX Runtime's CPU kernels of these ops take float32, float64, int32 and int64 (Equal bools too); other
types are cast first, exactly: half floats to float32 (where a comparison or a search gives the same
answer, and a running sum accumulates as PyTorch's CPU kernel does before rounding back), narrow integers
and bools to int64 (where PyTorch's running sums of them are anyway).
"""

from __future__ import annotations

import math

import numpy as np

from ....layers.index import alibi_slopes, bucket_halves, relative_position_index
from ....shapes.dims import DimLike
from ....shapes.tensor import TensorType
from ..builder import ELEM, Unsupported
from . import opset
from .base import Layer, lowers
from .merge import as_dtype

_NATIVE = ("float32", "float64", "int32", "int64")


def _work(dtype: str, bools: bool = False) -> str:
    """The type an op computes ``dtype`` values in (``bools``: the op takes bools as they are)."""
    if dtype in _NATIVE or (bools and dtype == "bool"):
        return dtype
    return "float32" if dtype.startswith(("float", "bfloat")) else "int64"


@lowers("ArgMax", "ArgMin")
def arg(layer: Layer) -> str:
    x = as_dtype(layer, layer.x, layer.in_type.dtype, _work(layer.in_type.dtype))
    # ties: the first index, as PyTorch (select_last_index is 0 by default from opset 12, the only
    # behaviour before it)
    return layer.op(layer.kind, [x], axis=int(layer.args["dim"]), keepdims=int(bool(layer.args["keepdim"])))


@lowers("CumSum")
def cumsum(layer: Layer) -> str:
    have, want = layer.in_type.dtype, layer.out.dtype
    work = _work(want)
    x = as_dtype(layer, layer.x, have, work)
    y = layer.op("CumSum", [x, layer.const(int(layer.args["dim"]))], exclusive=int(bool(layer.args["exclusive"])),
                 reverse=int(bool(layer.args["reverse"])))
    return as_dtype(layer, y, work, want)


_ONNX = {"eq": "Equal", "gt": "Greater", "lt": "Less", "ge": "GreaterOrEqual", "le": "LessOrEqual"}


@lowers("Compare")
def compare(layer: Layer) -> str:
    op, compared = layer.args["op"], layer.args["dtype"]
    work = _work(compared, bools=op in ("eq", "ne"))
    a = as_dtype(layer, as_dtype(layer, layer.x, layer.in_type.dtype, compared), compared, work)
    if len(layer.inputs) > 1:
        b = as_dtype(layer, as_dtype(layer, layer.inputs[1], layer.in_types[1].dtype, compared), compared, work)
    else:
        # the constant as PyTorch compares with it: in the compared type (0.1 against float16 values is
        # float16's 0.1), then held in the type the op works in
        half = compared in ("float16", "bfloat16")
        b = layer.const(layer.args["value"], "float32" if half else compared)
        if half:
            b = layer.op("Cast", [b], to=ELEM[compared])
        b = as_dtype(layer, b, compared, work)
    if op in ("eq", "ne"):
        same = _equal(layer, a, b, work)
        return layer.op("Not", [same]) if op == "ne" else same
    if op in ("ge", "le") and layer.b.opset < 12:
        # GreaterOrEqual and LessOrEqual came in opset 12; the pair of tests keeps a NaN false, as it is
        strict = layer.op("Greater" if op == "ge" else "Less", [a, b])
        return layer.op("Or", [strict, layer.op("Equal", [a, b])])
    return layer.op(_ONNX[op], [a, b])


def _equal(layer: Layer, a: str, b: str, work: str) -> str:
    """a == b; before opset 11, where Equal takes no floats, as neither a < b nor a > b, nor a NaN on
    either side (NaN equals nothing, itself included)."""
    if layer.b.opset >= 11 or not work.startswith("float"):
        return layer.op("Equal", [a, b])
    ordered = layer.op("Or", [layer.op("Less", [a, b]), layer.op("Greater", [a, b])])
    nan = layer.op("Or", [layer.op("IsNaN", [a]), layer.op("IsNaN", [b])])
    return layer.op("Not", [layer.op("Or", [ordered, nan])])


@lowers("Pick")
def pick(layer: Layer) -> str:
    d = int(layer.args["dim"])
    index = as_dtype(layer, layer.inputs[1], layer.in_types[1].dtype, "int64")
    # GatherND over the first d dims as batch dims: each row's index is a 1-tuple into dim d
    return layer.op("GatherND", [layer.x, opset.unsqueeze(layer, index, [d])], batch_dims=d)


@lowers("MaskedFill")
def masked_fill(layer: Layer) -> str:
    # Where(mask, value, x), in a type ONNX Runtime's Where kernel takes; the value made as PyTorch
    # writes it into x's dtype (float16's -inf stays -inf)
    have = layer.in_type.dtype
    work = _work(have, bools=True)
    x = as_dtype(layer, layer.x, have, work)
    value = layer.const(layer.args["value"], work)
    return as_dtype(layer, layer.op("Where", [layer.inputs[1], value, x]), work, have)


@lowers("CausalMask")
def causal_mask(layer: Layer) -> str:
    # key - query compared with the diagonal
    if layer.b.opset < 11:
        raise Unsupported("a causal mask of run-time lengths needs Range, from opset 11")
    ahead = _offsets(layer, int(layer.args["q"]), int(layer.args["k"]))
    mask = layer.op("Greater", [ahead, layer.const(int(layer.args["diagonal"]) - 1)])
    if layer.args["window"] is not None:
        mask = layer.op("Or", [mask, layer.op("Less", [ahead, layer.const(1 - int(layer.args["window"]))])])
    return mask


def bucket_table(num_buckets: int, max_distance: int, bidirectional: bool) -> np.ndarray:
    """T5's bucket of each offset key - query from -max_distance to max_distance (farther ones share the
    end buckets), computed as HF's _relative_position_bucket computes it: the log-spaced offsets in float32,
    in its order, truncated."""
    n, max_exact = bucket_halves(num_buckets, bidirectional)
    offsets = np.arange(-max_distance, max_distance + 1, dtype=np.int64)
    if bidirectional:
        base = (offsets > 0).astype(np.int64) * n
        distance = np.abs(offsets)
    else:
        base = np.zeros_like(offsets)
        distance = -np.minimum(offsets, 0)
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) at the offsets the exact buckets take
        logs = np.log(distance.astype(np.float32) / np.float32(max_exact))
        scaled = logs / np.float32(math.log(max_distance / max_exact)) * np.float32(n - max_exact)
        large = max_exact + np.where(np.isfinite(scaled), scaled, 0).astype(np.int64)
    large = np.minimum(large, n - 1)
    return base + np.where(distance < max_exact, distance, large)


def _length(layer: Layer, v: str, t: TensorType, d: int) -> str:
    """Dim ``d`` of ``v`` as a scalar int64: a constant when fixed, else read at run time."""
    size = layer.const([t.shape[d]]) if isinstance(t.shape[d], int) else opset.dims_of(layer, v, d, d + 1)
    return layer.op("Reshape", [size, layer.const([], "int64")])


def _offsets(layer: Layer, q_dim: int, k_dim: int) -> str:
    """key - query for every pair, (T, S) int64: T from dim ``q_dim`` of the first input, S from dim
    ``k_dim`` of the last (two Ranges, Range from opset 11, and a Sub)."""
    k = len(layer.inputs) - 1
    zero, one = layer.const(0), layer.const(1)
    rows = layer.op("Range", [zero, _length(layer, layer.x, layer.in_type, q_dim), one])
    cols = layer.op("Range", [zero, _length(layer, layer.inputs[k], layer.in_types[k], k_dim), one])
    return layer.op("Sub", [cols, opset.unsqueeze(layer, rows, [1])])


@lowers("RelativePositionBucket")
def relative_position_bucket(layer: Layer) -> str:
    # key - query for every pair (two Ranges and a Sub), clipped to ±max_distance, past which the buckets no
    # longer change, and looked up in the table of those offsets' buckets: the ids are HF's whatever the
    # runtime's Log rounds to (its float32 log differs from PyTorch's in the last bit at some offsets)
    a = layer.args
    offset = _offsets(layer, a["dims"][0], a["dims"][-1])
    far = int(a["max_distance"])
    offset = layer.op("Where", [layer.op("Greater", [offset, layer.const(far)]), layer.const(far), offset])
    offset = layer.op("Where", [layer.op("Less", [offset, layer.const(-far)]), layer.const(-far), offset])
    # the table as a column: ONNX shape inference propagates the values of a 1-d int64 initialiser, and
    # the verifier gives it a large one's type without its data
    table = layer.const(bucket_table(int(a["num_buckets"]), far, bool(a["bidirectional"]))[:, None])
    return opset.squeeze(layer, layer.op("Gather", [table, layer.op("Add", [offset, layer.const(far)])], axis=0), [2])


@lowers("RelativePositionIndex")
def relative_position_index_(layer: Layer) -> str:
    wh, ww = layer.args["window"]
    return layer.const(relative_position_index(int(wh), int(ww), bool(layer.args["class_token"]),
                                               bool(layer.args.get("absolute", False))))


@lowers("ALiBi")
def alibi(layer: Layer) -> str:
    # key - query for every pair (two Ranges and a Sub), in float32, times each head's slope: (heads, T, S)
    a = layer.args
    offset = _offsets(layer, a["dims"][0], a["dims"][-1])
    if a["symmetric"]:
        offset = layer.op("Neg", [layer.op("Abs", [offset])])
    slopes = np.asarray(alibi_slopes(int(a["num_heads"]), float(a["max_bias"])), dtype=np.float32)
    offset = layer.op("Cast", [offset], to=ELEM["float32"])
    return layer.op("Mul", [layer.const(slopes[:, None, None], "float32"), offset])


@lowers("AnchorPoints")
def anchor_points(layer: Layer) -> list[str]:
    # per map: its columns and rows (Range over the run-time sizes) plus the offset, spread over the (H, W)
    # grid, flattened row by row and stacked as (x, y); its stride spread over its cells
    t, offset = layer.out.dtype, float(layer.args["offset"])
    points, strides = [], []
    for ty, stride in zip(layer.in_types, layer.args["strides"]):
        h, w = ty.shape[2], ty.shape[3]
        grid = layer.shape([h, w])

        def axis_of(n: DimLike) -> str:
            r = layer.op("Range", [layer.const(0), opset.squeeze(layer, layer.size(n), [0]), layer.const(1)])
            return layer.op("Add", [layer.op("Cast", [r], to=ELEM[t]), layer.const(offset, t)])

        xs = layer.op("Expand", [opset.unsqueeze(layer, axis_of(w), [0]), grid])
        ys = layer.op("Expand", [opset.unsqueeze(layer, axis_of(h), [1]), grid])
        row = layer.const([1, -1])
        points.append(layer.op("Concat", [layer.op("Reshape", [xs, row]), layer.op("Reshape", [ys, row])], axis=0))
        cells = layer.shape([1, h * w])
        strides.append(layer.op("Expand", [layer.const([[float(stride)]], t), cells]))
    if len(points) == 1:
        return [points[0], strides[0]]
    return [layer.op("Concat", points, axis=1), layer.op("Concat", strides, axis=1)]
