"""L019 division-by-zero: a Div whose divisor is exactly 0 at some positions.

What it does
    A Div (Divide) takes as its divisor, directly or through layers that keep zeros where they
    are (reshapes, permutes, Identity, Mul), the output of a layer that makes exact zeros: zero
    padding (ZeroPad, or ConstantPad with value 0) at the padded positions; ReLU, ReLU6,
    Hardtanh with min_val 0, Hardsigmoid and Hardswish wherever their input is low enough;
    MaxUnpool everywhere but where the maxima go; a dropout layer while training; a sum (Reduce
    op: sum) of 0/1 values (a Compare, a bool or uint8 input, or a Cast of them) wherever every
    value summed is 0, over a row or column of a square (N, N) matrix: the degree of a graph node
    with no edge, in an adjacency without self-loops; and a MatMul with such a square 0/1 matrix
    (A @ x, x @ A), whose row (column) of an isolated node is 0 whatever the other factor holds:
    GraphSAGE's mean written with the operands swapped, or a degree computed as A @ x; a std or
    var (Reduce) without eps, 0 over a constant series.

Why is this bad
    x / 0 is ±inf and 0 / 0 is NaN. A NaN spreads through every later layer into the loss, and
    the runtimes treat it differently (PyTorch's max pools pass a NaN on, ONNX Runtime's skip
    it), so an exported model and its PyTorch twin disagree wherever one appears.

Example
    layers:
      - {type: Linear, out_features: 16, name: scale}
      - {type: ReLU, name: gate}
      - {type: Div, from: [scale, gate]}

Use instead
    Divide by something that cannot be 0: a Softplus or Sigmoid on the divisor instead of ReLU,
    padding after the division (or ConstantPad with a non-zero value), or multiply instead. A
    GCN adds a self-loop to every node (Kipf and Welling's Â = A + I), which adds 1 to each
    degree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf, arg

if TYPE_CHECKING:
    from ...graph.ir import Graph

CODE = "L019"
# Layers that move values without changing them: a zero stays a zero.
KEEP_ZEROS = ("Identity", "Flatten", "Unflatten", "Reshape", "Permute", "Transpose", "Squeeze", "Unsqueeze")
# One step of a clamp at 0: where each activation gives exact zeros.
CLAMPS = {"ReLU": "wherever its input is negative", "ReLU6": "wherever its input is negative",
          "Hardsigmoid": "wherever its input is at most -3", "Hardswish": "wherever its input is at most -3"}
DROPOUTS = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "StochasticDepth")
ZERO_ONE = ("bool", "uint8")


def _padding_nonzero(step: Leaf) -> bool:
    pad = arg(step, "padding", 0)
    values = pad if isinstance(pad, (list, tuple)) else [pad]
    return any(isinstance(v, int) and v > 0 for v in values)


def _zero_one(step: Leaf | str, graph: Graph | None, depth: int = 0) -> bool:
    """True when ``step``'s values are 0 or 1 (a mask, an adjacency): a Compare, a bool or uint8
    tensor, read through casts and reshapes."""
    if isinstance(step, str):
        t = graph.inputs.get(step) if graph is not None else None
        return t is not None and t.dtype in ZERO_ONE
    if depth > 64:
        return False
    if step.type == "Compare" or (step.out is not None and step.out.dtype in ZERO_ONE):
        return True
    return (step.type == "Cast" or step.type in KEEP_ZEROS) and len(step.inputs) == 1 and \
        _zero_one(step.inputs[0], graph, depth + 1)


def _degree(step: Leaf) -> bool:
    """True for a sum over one of the last two dims of a square (..., N, N) matrix: a node's degree.
    (A mask's sum over the steps counts a sequence's real tokens, of which a sentence has one at
    least; an adjacency row of an isolated node is all 0.)"""
    src = step.inputs[0] if step.inputs else None
    t = src.out if isinstance(src, Leaf) else None
    dim = arg(step, "dim")
    if t is None or t.rank < 2 or t.shape[-1] != t.shape[-2] or not isinstance(dim, int):
        return False
    return dim % t.rank in (t.rank - 1, t.rank - 2)


def _square(step: Leaf | str, graph: Graph | None) -> bool:
    """True for a square (..., N, N) matrix, an adjacency; a one-hot (..., T, V) matrix has a 1 in every row."""
    t = step.out if isinstance(step, Leaf) else graph.inputs.get(step) if graph is not None else None
    return t is not None and t.rank >= 2 and t.shape[-1] == t.shape[-2]


def _name(step: Leaf | str) -> str:
    return step.who() if isinstance(step, Leaf) else f"'{step}'"


def zero_source(step: Leaf | str, depth: int = 0, graph: Graph | None = None) -> tuple[Leaf, str] | None:
    """The layer that makes exact zeros in ``step``'s output, and where, or None."""
    if not isinstance(step, Leaf) or depth > 64:
        return None
    kind = step.type
    if kind == "Reduce" and arg(step, "op", "mean") == "sum" and _degree(step) and _zero_one(step.inputs[0], graph):
        return step, "for a node with no edge (a row of 0/1 adjacency summed with no self-loop in it)"
    if kind == "MatMul" and len(step.inputs) == 2:
        for side, src in enumerate(step.inputs):
            if _square(src, graph) and _zero_one(src, graph):
                line = ("row", "its row") if side == 0 else ("column", "its column")
                return step, (f"in the {line[0]} of a node with no edge ({line[1]} of the 0/1 adjacency {_name(src)} "
                              "is all 0, and so is every product of it)")
    if kind == "Reduce" and arg(step, "op", "mean") in ("std", "var") and not arg(step, "eps", None):
        return step, "for a constant series (every value it reduces equal: a flat stretch, padding)"
    if kind in CLAMPS:
        return step, CLAMPS[kind]
    if kind == "Hardtanh" and arg(step, "min_val", -1) == 0:
        return step, "wherever its input is at most 0"
    if kind.startswith("ZeroPad") and _padding_nonzero(step):
        return step, "at the padded positions"
    if kind.startswith("ConstantPad") and arg(step, "value", None) == 0 and _padding_nonzero(step):
        return step, "at the padded positions"
    if kind.startswith("MaxUnpool"):
        return step, "everywhere but where the pooled maxima go back"
    if kind in DROPOUTS and arg(step, "p", 0) not in (0, 0.0):
        return step, "at the dropped positions while training"
    if kind in KEEP_ZEROS or kind in ("Mul", "Multiply"):
        for src in step.inputs:
            found = zero_source(src, depth + 1, graph)
            if found is not None:
                return found
    return None


def _fix(source: Leaf) -> str:
    if source.type in CLAMPS or source.type == "Hardtanh":
        return (f"make the divisor positive: e.g. {{type: Softplus}} or {{type: Sigmoid}} in place of "
                f"{source.type} '{source.node.path}'")
    if source.type == "MatMul":
        return ("divide by the degree, the adjacency's own sum ({type: Reduce, op: sum, dim: -1, keepdim: true} "
                f"of it, plus 1 for a self-loop: {{type: Add, value: 1.0}}), not by {source.who()}: a mean "
                "aggregation is (A @ x) / (deg + 1)")
    if source.type == "Reduce" and arg(source, "op", "mean") in ("std", "var"):
        return ("set eps: 1.0e-5 on '" + source.node.path + "' (sqrt(var + eps), RevIN's)" if arg(source, "op") == "std"
                else f"add - {{type: Add, value: 1.0e-5}} after '{source.node.path}'")
    if source.type == "Reduce":
        return (f"add - {{type: Add, value: 1.0}} after '{source.node.path}': a self-loop on every node adds 1 to its "
                "degree (Kipf and Welling's A + I), so no degree is 0")
    if "Pad" in source.type:
        return f"pad after the division, or give '{source.node.path}' a non-zero value (ConstantPad value: 1)"
    return "divide by a value that cannot be 0, or multiply instead"


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        if step.type not in ("Div", "Divide") or len(step.inputs) != 2:
            continue
        found = zero_source(step.inputs[1], graph=ctx.graph)
        if found is None:
            continue
        source, where = found
        via = "" if source is step.inputs[1] else f" (through {step.inputs[1].who()})" \
            if isinstance(step.inputs[1], Leaf) else ""
        yield ctx.warning(
            CODE, step, f"its divisor comes from {source.who()}{via}, which is exactly 0 {where}: the quotient "
            "is ±inf there, or NaN where the dividend is 0 too, and a NaN spreads through every later layer",
            _fix(source))
