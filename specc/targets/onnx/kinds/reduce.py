"""ONNX lowering of the reductions (Reduce, Mean): ReduceMean/Sum/Max/Min/L2 over the chosen dims; var and std
written out from the mean.

The dims go in an input from the opset where ONNX moved them there (13 for ReduceSum, 18 for the
others) and in the ``axes`` attribute before.  PyTorch sums integers and bools as int64; they
are cast to int64 first, and a max or min of a type ONNX Runtime has no kernel for is taken in
int64 and cast back, which is exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ....shapes.dims import product
from ..builder import ELEM
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
    if op in ("var", "std"):
        return _spread(layer, axes, keep)
    work = have if floats or (have in ("int32", "int64") and op in ("max", "min")) else "int64"
    y = reduce(layer, _OPS[op], as_dtype(layer, layer.x, have, work), axes, keep)
    return as_dtype(layer, y, work, want)


def _spread(layer: Layer, axes: list[int], keep: bool) -> str:
    """The sum of squared deviations from the mean over the count less ``correction``; for std its
    root, eps under it. The count is the reduced dims' sizes, read at run time."""
    a, t = layer.args, layer.float_dtype
    centred = layer.op("Sub", [layer.x, reduce(layer, "ReduceMean", layer.x, axes, True)])
    squares = layer.op("Mul", [centred, centred])
    if a["correction"] == 0:
        var = reduce(layer, "ReduceMean", squares, axes, keep)
    else:
        count = layer.size(product([layer.in_type.shape[d] for d in axes]))
        less = layer.op("Cast", [layer.op("Sub", [count, layer.const([a["correction"]])])], to=ELEM[t])
        less = layer.op("Reshape", [less, layer.const(np.zeros(0, dtype=np.int64))])  # a scalar: no rank added
        var = layer.op("Div", [reduce(layer, "ReduceSum", squares, axes, keep), less])
    if a["op"] == "var":
        return var
    if a.get("eps"):
        var = layer.op("Add", [var, layer.const(np.asarray(a["eps"], dtype=np.float32), t)])
    return layer.op("Sqrt", [var])


@lowers("SoftArgmax")
def soft_argmax(layer: Layer) -> str:
    # softmax written out (exp(x - max) / sum, along any axis at any opset), times the bins, summed
    t, rank, n = layer.float_dtype, layer.in_type.rank, int(layer.args["bins"])
    ax = int(layer.args["dim"]) % rank
    e = layer.op("Exp", [layer.op("Sub", [layer.x, reduce(layer, "ReduceMax", layer.x, [ax], True)])])
    p = layer.op("Div", [e, reduce(layer, "ReduceSum", e, [ax], True)])
    bins = layer.const(np.arange(n).reshape([n] + [1] * (rank - ax - 1)), t)
    return reduce(layer, "ReduceSum", layer.op("Mul", [p, bins]), [ax], bool(layer.args["keepdim"]))
