"""ONNX lowering of the merges: Add, Mul, Sub, Div, Max, Min (broadcasting) and Concat.

ONNX's element-wise ops take inputs of one type, where PyTorch promotes mixed ones; each input is
cast to the type PyTorch computes in first (the type specc inferred for the output), and integer
types ONNX Runtime has no kernel for are computed in int64 and cast back, which wraps around
exactly as PyTorch's narrow integers do.  Several inputs are combined left to right, as
``a + b + c`` is in PyTorch, so the rounding is the same.
"""

from __future__ import annotations

from ....layers.merge import promote
from ..builder import ELEM
from .base import Layer, lowers

# integer types ONNX Runtime's CPU kernels of Add, Sub, Mul, Max and Min all take
_NATIVE_INTS = ("int32", "int64")
_ONNX_OP = {"Add": "Add", "Mul": "Mul", "Sub": "Sub", "Div": "Div", "Max": "Max", "Min": "Min"}


def cast(layer: Layer, value: str, have: str, want: str) -> str:
    """``value`` (of dtype ``have``) as dtype ``want``: itself when they agree."""
    return value if have == want else layer.op("Cast", [value], to=ELEM[want])


@lowers(*_ONNX_OP)
def elementwise(layer: Layer) -> str:
    want = layer.out.dtype
    # Div of integers (or bools) divides in float32, as torch.div does; every other op in the
    # type PyTorch promotes the inputs to
    work = "int64" if want not in _NATIVE_INTS and not want.startswith(("float", "bfloat")) else want
    values = [cast(layer, v, t.dtype, work) for v, t in zip(layer.inputs, layer.in_types)]
    acc = values[0]
    for v in values[1:]:
        acc = layer.op(_ONNX_OP[layer.kind], [acc, v])
    return cast(layer, acc, work, want)


@lowers("Concat")
def concat(layer: Layer) -> str:
    # torch.cat promotes mixed inputs to one type; specc's output type says which
    want = promote([t.dtype for t in layer.in_types])
    values = [cast(layer, v, t.dtype, want) for v, t in zip(layer.inputs, layer.in_types)]
    return cast(layer, layer.op("Concat", values, axis=int(layer.args["dim"])), want, layer.out.dtype)
