"""ONNX lowering of the reductions (Reduce, Mean): ReduceMean/Sum/Max/Min/L2 over the chosen dims.

The dims go in an input from the opset where ONNX moved them there (13 for ReduceSum, 18 for the
others) and in the ``axes`` attribute before.  PyTorch sums integers and bools as int64; they
are cast to int64 first, and a max or min of a type ONNX Runtime has no kernel for is taken in
int64 and cast back, which is exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import Layer, lowers
from .merge import as_dtype

_OPS = {"mean": "ReduceMean", "sum": "ReduceSum", "max": "ReduceMax", "min": "ReduceMin", "l2": "ReduceL2"}
# the opset from which each ReduceX reads its axes from an input
_AXES_INPUT = {"ReduceSum": 13}


def reduce(layer: Layer, op_type: str, x: str, axes: Sequence[int], keepdims: bool) -> str:
    """``op_type`` (ReduceMean, ReduceL2…) of ``x`` over ``axes``, written for the model's opset."""
    axes = [int(a) for a in axes]
    if layer.b.opset >= _AXES_INPUT.get(op_type, 18):
        return layer.op(op_type, [x, layer.const(axes)], keepdims=int(keepdims))
    return layer.op(op_type, [x], axes=axes, keepdims=int(keepdims))


@lowers("Reduce", "Mean")
def reduction(layer: Layer) -> str:
    op, dim, keep = layer.args["op"], layer.args["dim"], bool(layer.args["keepdim"])
    rank = layer.in_type.rank
    axes = sorted({d % rank for d in ((dim,) if isinstance(dim, int) else dim)})
    have, want = layer.in_type.dtype, layer.out.dtype
    floats = have.startswith(("float", "bfloat"))
    work = have if floats or (have in ("int32", "int64") and op in ("max", "min")) else "int64"
    y = reduce(layer, _OPS[op], as_dtype(layer, layer.x, have, work), axes, keep)
    return as_dtype(layer, y, work, want)


@lowers("SoftArgmax")
def soft_argmax(layer: Layer) -> str:
    # softmax written out (exp(x - max) / sum, along any axis at any opset), times the bins, summed
    t, rank, n = layer.float_dtype, layer.in_type.rank, int(layer.args["bins"])
    ax = int(layer.args["dim"]) % rank
    e = layer.op("Exp", [layer.op("Sub", [layer.x, reduce(layer, "ReduceMax", layer.x, [ax], True)])])
    p = layer.op("Div", [e, reduce(layer, "ReduceSum", e, [ax], True)])
    bins = layer.const(np.arange(n).reshape([n] + [1] * (rank - ax - 1)), t)
    return reduce(layer, "ReduceSum", layer.op("Mul", [p, bins]), [ax], bool(layer.args["keepdim"]))
