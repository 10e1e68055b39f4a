"""L019 division-by-zero: a Div whose divisor is exactly 0 at some positions.

What it does
    A Div (Divide) takes as its divisor, directly or through layers that keep zeros where they
    are (reshapes, permutes, Identity, Mul), the output of a layer that makes exact zeros: zero
    padding (ZeroPad, or ConstantPad with value 0) at the padded positions; ReLU, ReLU6,
    Hardtanh with min_val 0, Hardsigmoid and Hardswish wherever their input is low enough;
    MaxUnpool everywhere but where the maxima go; a dropout layer while training.

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
    padding after the division (or ConstantPad with a non-zero value), or multiply instead.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf, arg

CODE = "L019"
# Layers that move values without changing them: a zero stays a zero.
KEEP_ZEROS = ("Identity", "Flatten", "Unflatten", "Reshape", "Permute", "Transpose", "Squeeze", "Unsqueeze")
# One step of a clamp at 0: where each activation gives exact zeros.
CLAMPS = {"ReLU": "wherever its input is negative", "ReLU6": "wherever its input is negative",
          "Hardsigmoid": "wherever its input is at most -3", "Hardswish": "wherever its input is at most -3"}
DROPOUTS = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "StochasticDepth")


def _padding_nonzero(step: Leaf) -> bool:
    pad = arg(step, "padding", 0)
    values = pad if isinstance(pad, (list, tuple)) else [pad]
    return any(isinstance(v, int) and v > 0 for v in values)


def zero_source(step: Leaf | str, depth: int = 0) -> tuple[Leaf, str] | None:
    """The layer that makes exact zeros in ``step``'s output, and where, or None."""
    if not isinstance(step, Leaf) or depth > 64:
        return None
    kind = step.type
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
            found = zero_source(src, depth + 1)
            if found is not None:
                return found
    return None


def _fix(source: Leaf) -> str:
    if source.type in CLAMPS or source.type == "Hardtanh":
        return (f"make the divisor positive: e.g. {{type: Softplus}} or {{type: Sigmoid}} in place of "
                f"{source.type} '{source.node.path}'")
    if "Pad" in source.type:
        return f"pad after the division, or give '{source.node.path}' a non-zero value (ConstantPad value: 1)"
    return "divide by a value that cannot be 0, or multiply instead"


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        if step.type not in ("Div", "Divide") or len(step.inputs) != 2:
            continue
        found = zero_source(step.inputs[1])
        if found is None:
            continue
        source, where = found
        via = "" if source is step.inputs[1] else f" (through {step.inputs[1].who()})" \
            if isinstance(step.inputs[1], Leaf) else ""
        yield ctx.warning(
            CODE, step, f"its divisor comes from {source.who()}{via}, which is exactly 0 {where}: the quotient "
            "is ±inf there, or NaN where the dividend is 0 too, and a NaN spreads through every later layer",
            _fix(source))
