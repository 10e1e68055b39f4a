"""ONNX lowering of Linear: Gemm on a (N, in) input, MatMul with the transposed weight on more dims."""

from __future__ import annotations

from ..weights import fan_in
from .base import Layer, lowers
from .reparam import weight


@lowers("Linear")
def linear(layer: Layer) -> str:
    n_in, n_out, bias = layer.args["in_features"], layer.args["out_features"], layer.args["bias"]
    w = weight(layer, (n_out, n_in), fan_in(n_in))
    b = layer.param("bias", (n_out,), fan_in(n_in)) if bias else ""
    if layer.in_type.rank == 2:
        return layer.op("Gemm", [layer.x, w, b] if b else [layer.x, w], transB=1)
    y = layer.op("MatMul", [layer.x, layer.op("Transpose", [w], perm=[1, 0])])
    return layer.op("Add", [y, b]) if b else y
