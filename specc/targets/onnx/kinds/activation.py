"""ONNX lowering of the activations: ONNX's own op where its definition is PyTorch's, else
the formula PyTorch documents, written with the ops ONNX has at the model's opset."""

from __future__ import annotations

import math

from ..builder import ELEM
from ..weights import Init
from .base import Layer, lowers
from .opset import split
from .reduce import reduce

_SAME = {"ReLU": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Softsign": "Softsign", "SELU": "Selu",
         "Mish": "Mish", "Hardswish": "HardSwish", "Abs": "Abs"}


@lowers(*_SAME)
def same(layer: Layer) -> str:
    # ONNX's Selu defaults are PyTorch's alpha and scale to the last bit
    return layer.op(_SAME[layer.kind], [layer.x])


@lowers("ReLU6")
def relu6(layer: Layer) -> str:
    return _clip(layer, 0.0, 6.0)


@lowers("Hardtanh")
def hardtanh(layer: Layer) -> str:
    return _clip(layer, layer.args["min_val"], layer.args["max_val"])


def _clip(layer: Layer, low: float, high: float) -> str:
    t = layer.float_dtype
    return layer.op("Clip", [layer.x, layer.const(low, t), layer.const(high, t)])


@lowers("LeakyReLU")
def leaky_relu(layer: Layer) -> str:
    return layer.op("LeakyRelu", [layer.x], alpha=float(layer.args["negative_slope"]))


@lowers("ELU")
def elu(layer: Layer) -> str:
    return layer.op("Elu", [layer.x], alpha=float(layer.args["alpha"]))


@lowers("CELU")
def celu(layer: Layer) -> str:
    return layer.op("Celu", [layer.x], alpha=float(layer.args["alpha"]))


@lowers("Hardsigmoid")
def hardsigmoid(layer: Layer) -> str:
    # PyTorch's relu6(x + 3) / 6 is ONNX's max(0, min(1, x/6 + 1/2))
    return layer.op("HardSigmoid", [layer.x], alpha=1 / 6, beta=0.5)


@lowers("SiLU")
def silu(layer: Layer) -> str:
    return layer.op("Mul", [layer.x, layer.op("Sigmoid", [layer.x])])


@lowers("GELU")
def gelu(layer: Layer) -> str:
    x, t, tanh = layer.x, layer.float_dtype, layer.args.get("approximate") == "tanh"
    if layer.b.opset >= 20:
        return layer.op("Gelu", [x], approximate="tanh" if tanh else "none")
    if tanh:  # 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
        cube = layer.op("Mul", [layer.op("Mul", [x, x]), x])
        inner = layer.op("Add", [x, layer.op("Mul", [cube, layer.const(0.044715, t)])])
        core = layer.op("Tanh", [layer.op("Mul", [inner, layer.const(math.sqrt(2 / math.pi), t)])])
    else:  # 0.5·x·(1 + erf(x/√2)), with Div as ONNX Runtime's GeluFusion matches it (one Gelu or BiasGelu kernel)
        core = layer.op("Erf", [layer.op("Div", [x, layer.const(math.sqrt(2), t)])])
    half_x = layer.op("Mul", [x, layer.const(0.5, t)])
    return layer.op("Mul", [half_x, layer.op("Add", [core, layer.const(1.0, t)])])


@lowers("Softplus")
def softplus(layer: Layer) -> str:
    # PyTorch: log(1 + exp(βx))/β, and x itself where βx > threshold (ONNX's Softplus has neither)
    x, t = layer.x, layer.float_dtype
    beta, threshold = float(layer.args["beta"]), float(layer.args["threshold"])
    bx = x if beta == 1 else layer.op("Mul", [x, layer.const(beta, t)])
    soft = layer.op("Softplus", [bx])
    if beta != 1:
        soft = layer.op("Div", [soft, layer.const(beta, t)])
    return layer.op("Where", [layer.op("Greater", [bx, layer.const(threshold, t)]), x, soft])


@lowers("Softmax")
def softmax(layer: Layer) -> str:
    return layer.op("Softmax", [layer.x], axis=int(layer.args["dim"]))


@lowers("Sparsemax")
def sparsemax(layer: Layer) -> str:
    # pytorch-tabnet's formula, as the PyTorch target writes it: the row shifted by its max and sorted
    # (TopK of the whole row), k(z) from the running sums, tau = (sum of the top k(z) - 1) / k(z)
    x, t, rank = layer.x, layer.float_dtype, layer.in_type.rank
    ax = int(layer.args["dim"]) % rank
    z = layer.op("Sub", [x, reduce(layer, "ReduceMax", x, [ax], True)])
    n = layer.size(layer.in_type.shape[ax])
    ranked = layer.op("TopK", [z, n], outputs=2, axis=ax, largest=1, sorted=1)[0]
    sums = layer.op("Sub", [layer.op("CumSum", [ranked, layer.const(ax)]), layer.const(1.0, t)])
    scalar = layer.op("Reshape", [n, layer.const([], "int64")])
    k = layer.op("Range", [layer.const(1), layer.op("Add", [scalar, layer.const(1)]), layer.const(1)])
    k = layer.op("Reshape", [layer.op("Cast", [k], to=ELEM[t]), layer.const([-1] + [1] * (rank - ax - 1))])
    above = layer.op("Cast", [layer.op("Greater", [layer.op("Mul", [k, ranked]), sums])], to=ELEM[t])
    support = reduce(layer, "ReduceSum", above, [ax], True)
    at = layer.op("Cast", [layer.op("Sub", [support, layer.const(1.0, t)])], to=ELEM["int64"])
    tau = layer.op("Div", [layer.op("GatherElements", [sums, at], axis=ax), support])
    return layer.op("Relu", [layer.op("Sub", [z, tau])])


@lowers("LogSoftmax")
def log_softmax(layer: Layer) -> str:
    return layer.op("LogSoftmax", [layer.x], axis=int(layer.args["dim"]))


@lowers("GLU")
def glu(layer: Layer) -> str:
    d = int(layer.args["dim"]) % layer.in_type.rank
    half = int(layer.out.shape[d])
    a, b = split(layer, layer.x, [half, half], d)
    return layer.op("Mul", [a, layer.op("Sigmoid", [b])])


@lowers("PReLU")
def prelu(layer: Layer) -> str:
    n, rank = int(layer.args["num_parameters"]), layer.in_type.rank
    slope = layer.param("weight", (n,), Init("const", value=float(layer.args["init"])))
    if n > 1 and rank > 2:  # one slope per channel (dim 1): (C, 1, …) broadcasts against (N, C, …)
        slope = layer.op("Reshape", [slope, layer.const([n] + [1] * (rank - 2))])
    return layer.op("PRelu", [layer.x, slope])


@lowers("Sin", "Cos", "Exp", "Scale")
def scaled(layer: Layer) -> str:
    scale, x = float(layer.args["scale"]), layer.x
    if scale != 1 or layer.kind == "Scale":
        x = layer.op("Mul", [x, layer.const(scale, layer.float_dtype)])
    return x if layer.kind == "Scale" else layer.op(layer.kind, [x])
