"""ONNX lowering of the merges: Add, Mul, Sub, Div, Max, Min (broadcasting), MatMul, Concat and Modulate.

ONNX's element-wise ops take inputs of one type, where PyTorch promotes mixed ones: each step is
computed in the type PyTorch promotes it to, and integer types ONNX Runtime has no kernel for
in int64, cast back after, which wraps around exactly as PyTorch's narrow integers do.  Several
inputs are combined left to right, as ``a + b + c`` is in PyTorch, so the rounding is the same.
"""

from __future__ import annotations

from ....layers.merge import promote, scalar_dtype
from ..builder import ELEM
from ..weights import Init
from .base import Layer, lowers
from .opset import unsqueeze

# integer types ONNX Runtime's CPU kernels of Add, Sub, Mul, Max and Min all take
_NATIVE_INTS = ("int32", "int64")
_SAME = ("Add", "Mul", "Sub", "Div", "Max", "Min")  # ONNX names them as specc does


def as_dtype(layer: Layer, value: str, have: str, want: str) -> str:
    """``value`` (of dtype ``have``) as dtype ``want``: itself when they agree."""
    return value if have == want else layer.op("Cast", [value], to=ELEM[want])


@lowers(*_SAME)
def elementwise(layer: Layer) -> str:
    op = layer.kind
    acc, have = layer.inputs[0], layer.in_types[0].dtype
    operands = [(v, t.dtype) for v, t in zip(layer.inputs[1:], layer.in_types[1:])]
    value = layer.args.get("value")
    if value is not None:
        # the constant in the type PyTorch computes with it (scalar_dtype), as a tensor of that type
        typed = scalar_dtype(have, value)
        half = typed == "bfloat16"  # numpy has no bfloat16: made in float32 and cast
        c = layer.const(value, "float32" if half else typed)
        operands.append((layer.op("Cast", [c], to=ELEM[typed]) if half else c, typed))
    for v, dtype in operands:
        # one step of a + b + c at a time, in the type PyTorch promotes that step to (Div of
        # integers divides in float32, as torch.div does)
        step = promote([have, dtype])
        if layer.kind == "Div" and not step.startswith(("float", "bfloat")):
            step = "float32"
        work = step if step in _NATIVE_INTS or step.startswith(("float", "bfloat")) else "int64"
        a, b = as_dtype(layer, acc, have, work), as_dtype(layer, v, dtype, work)
        if op in ("Max", "Min") and work in _NATIVE_INTS and layer.b.opset < 12:
            # Max and Min take integers from opset 12; before, the larger (or smaller) one is picked
            acc = layer.op("Where", [layer.op("Greater" if op == "Max" else "Less", [a, b]), a, b])
        else:
            acc = layer.op(op, [a, b])
        acc, have = as_dtype(layer, acc, work, step), step
    return as_dtype(layer, acc, have, layer.out.dtype)


@lowers("MatMul")
def matmul(layer: Layer) -> str:
    # torch.matmul promotes mixed float inputs as arithmetic does; ONNX MatMul takes one type
    want = layer.out.dtype
    a, b = (as_dtype(layer, v, t.dtype, want) for v, t in zip(layer.inputs, layer.in_types))
    return layer.op("MatMul", [a, b])


@lowers("Concat")
def concat(layer: Layer) -> str:
    # torch.cat promotes mixed inputs to one type, the output's
    want = layer.out.dtype
    return layer.op("Concat", [as_dtype(layer, v, t.dtype, want) for v, t in zip(layer.inputs, layer.in_types)],
                    axis=int(layer.args["dim"]))


@lowers("Modulate")
def modulate(layer: Layer) -> str:
    # x * (1 + scale) + shift, each step in the type PyTorch promotes it to; shift and scale get
    # x's rank by unsqueezing every dim but the batch and the modulated one
    (x, shift, scale), (tx, tshift, tscale) = layer.inputs, [t.dtype for t in layer.in_types]
    axes = list(layer.args["axes"])
    # the constant 1 in scale's type (numpy has no bfloat16: made in float32 and cast)
    one = layer.const(1.0, "float32" if tscale == "bfloat16" else tscale)
    if tscale == "bfloat16":
        one = layer.op("Cast", [one], to=ELEM[tscale])
    one = layer.op("Add", [one, unsqueeze(layer, scale, axes)])
    step = promote([tx, tscale])
    scaled = layer.op("Mul", [as_dtype(layer, x, tx, step), as_dtype(layer, one, tscale, step)])
    out = promote([step, tshift])
    return layer.op("Add", [as_dtype(layer, scaled, step, out),
                            as_dtype(layer, unsqueeze(layer, shift, axes), tshift, out)])


@lowers("WeightedSum")
def weighted_sum(layer: Layer) -> str:
    # the weights as the PyTorch module computes them, then w_i · x_i summed in the order of the inputs;
    # w_i is a scalar, so each product keeps its input's type (PyTorch's rule for a 0-d operand)
    n, how, out = int(layer.args["n"]), layer.args["normalize"], layer.out.dtype
    w = layer.param("weight", (n,), Init("const", value=float(layer.args["init"])), "float32")
    if how == "fast":  # the sum of the n weights as n - 1 additions (n is a handful)
        w = layer.op("Relu", [w])
        total = layer.const(float(layer.args["eps"]), "float32")
        parts = [layer.op("Gather", [w, layer.const(i)], axis=0) for i in range(n)]
        whole = parts[0]
        for part in parts[1:]:
            whole = layer.op("Add", [whole, part])
        w = layer.op("Div", [w, layer.op("Add", [whole, total])])
    elif how == "softmax":
        w = layer.op("Softmax", [w], axis=0)
    y = None
    for i, (x, t) in enumerate(zip(layer.inputs, layer.in_types)):
        wi = layer.op("Gather", [w, layer.const(i)], axis=0)
        if t.dtype != "float32":
            wi = layer.op("Cast", [wi], to=ELEM[t.dtype])
        term = layer.op("Mul", [x, wi])
        if t.dtype != out:
            term = layer.op("Cast", [term], to=ELEM[out])
        y = term if y is None else layer.op("Add", [y, term])
    assert y is not None
    return y
