"""ONNX lowering of Linear: Gemm on a (N, in) input, MatMul with the transposed weight on more dims; and
of MixtureOfExperts, every expert on every token with the router's top-k weights scattered densely."""

from __future__ import annotations

from dataclasses import replace

from ..builder import ELEM
from ..weights import fan_in
from .activation import gelu
from .base import Layer, lowers
from .reduce import reduce
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


def _linear(layer: Layer, x: str, name: str, n_in: int, n_out: int, bias: bool) -> str:
    """``x`` through the nn.Linear ``name`` of the layer's module (any rank, features last)."""
    w = layer.param(f"{name}.weight", (n_out, n_in), fan_in(n_in))
    y = layer.op("MatMul", [x, layer.op("Transpose", [w], perm=[1, 0])])
    return layer.op("Add", [y, layer.param(f"{name}.bias", (n_out,), fan_in(n_in))]) if bias else y


def _expert(layer: Layer, x: str, name: str, hidden: int) -> str:
    """One expert MLP: w2(act(w1 x) * w3 x), or w2(act(w1 x)) ungated."""
    d, bias, act = int(layer.args["in_features"]), bool(layer.args["bias"]), layer.args["activation"]
    h = _linear(layer, x, f"{name}.w1", d, hidden, bias)
    if act == "silu":
        h = layer.op("Mul", [h, layer.op("Sigmoid", [h])])
    elif act == "relu":
        h = layer.op("Relu", [h])
    else:  # GELU's own lowering, on h
        h = gelu(replace(layer, inputs=[h], args={"approximate": "tanh" if act == "gelu_tanh" else "none"}))
    if layer.args["gated"]:
        h = layer.op("Mul", [h, _linear(layer, x, f"{name}.w3", d, hidden, bias)])
    return _linear(layer, h, f"{name}.w2", hidden, d, bias)


@lowers("MixtureOfExperts")
def mixture_of_experts(layer: Layer) -> str:
    # ONNX has no op that runs a weight on the rows an index picks and adds them back, so every expert
    # runs on every token and the router's k weights are scattered into a dense (..., E) matrix of zeros
    # elsewhere: the same sums as PyTorch's gathered tokens, at E/k times their cost.
    x, t = layer.x, layer.float_dtype
    d, e, k = int(layer.args["in_features"]), int(layer.args["num_experts"]), int(layer.args["top_k"])
    last = layer.in_type.rank - 1
    logits = _linear(layer, x, "gate", d, e, False)
    if t != "float32":  # Mixtral's softmax and routing weights are float32 whatever the activations are
        logits = layer.op("Cast", [logits], to=ELEM["float32"])
    probs = layer.op("Softmax", [logits], axis=last)
    top, chosen = layer.op("TopK", [probs, layer.const([k])], outputs=2, axis=last, largest=1, sorted=1)
    if layer.args["normalize"]:
        top = layer.op("Div", [top, reduce(layer, "ReduceSum", top, [last], True)])
    if t != "float32":
        top = layer.op("Cast", [top], to=ELEM[t])
    zeros = layer.op("Mul", [probs, layer.const(0.0, "float32")])
    if t != "float32":
        zeros = layer.op("Cast", [zeros], to=ELEM[t])
    dense = layer.op("ScatterElements", [zeros, chosen, top], axis=last)
    terms = []
    for i in range(e):
        weight = layer.op("Gather", [dense, layer.const([i])], axis=last)
        terms.append(layer.op("Mul", [_expert(layer, x, f"experts.{i}", int(layer.args["hidden_features"])),
                                      weight]))
    if layer.args["shared_features"] is not None:
        shared = _expert(layer, x, "shared_expert", int(layer.args["shared_features"]))
        if layer.args["shared_gate"]:
            scale = layer.op("Sigmoid", [_linear(layer, x, "shared_expert_gate", d, 1, False)])
            shared = layer.op("Mul", [scale, shared])
        terms.append(shared)
    return layer.op("Sum", terms) if len(terms) > 1 else terms[0]
