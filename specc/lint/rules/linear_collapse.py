"""L017 stacked-linear-maps: two Linear (or two convolution) layers with no activation between.

What it does
    A Linear reads another Linear, or a convolution another of the same rank, with only norms,
    dropout or Identity between them, and the first is no bottleneck: its width is not small
    enough for the pair to have fewer parameters than one layer would.

Why is this bad
    With no non-linearity between them the two layers compose to a single linear map (a norm
    or dropout only shifts and scales), so the model is no more expressive than with one of
    them: the extra layer costs parameters, compute and optimisation difficulty for nothing.
    Most often an activation was forgotten.

Example
    layers:
      - {type: Linear, out_features: 128}
      - {type: Dropout, p: 0.2}
      - {type: Linear, out_features: 10}

Use instead
    Add an activation after the first layer, e.g. - {type: ReLU}; or merge the two into one
    layer. A deliberate low-rank factorisation (a narrow middle, as in MobileNet's linear
    bottlenecks) does not fire.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf, arg

CODE = "L017"
PLAIN_CONVS = ("Conv1d", "Conv2d", "Conv3d")
# Norms and dropout only shift and scale (BatchNorm and dropout are affine at inference; LayerNorm
# and GroupNorm add one scale per sample), so the maps around them still act as one.
TRANSPARENT_FAMILIES = ("norm", "dropout")


def _widths(step: Leaf) -> tuple[object, object] | None:
    """(in, out) widths of a Linear or an ungrouped plain conv; None for anything else."""
    if step.type == "Linear":
        return arg(step, "in_features"), arg(step, "out_features")
    if step.type in PLAIN_CONVS and arg(step, "groups", 1) == 1:
        return arg(step, "in_channels"), arg(step, "out_channels")
    return None


def _previous_map(step: Leaf) -> tuple[Leaf, list[Leaf]] | None:
    """The linear layer feeding ``step`` through transparent layers only, with those layers."""
    between: list[Leaf] = []
    src = step.source
    while src is not None and (src.family in TRANSPARENT_FAMILIES or src.type == "Identity"):
        if len(src.consumers) != 1 or src.is_output:
            return None
        between.append(src)
        src = src.source
    if src is None or len(src.consumers) != 1 or src.is_output:
        return None
    return (src, between) if src.type == step.type else None


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for second in ctx.view.leaves:
        outer = _widths(second)
        found = _previous_map(second) if outer else None
        if found is None:
            continue
        first, between = found
        inner = _widths(first)
        if inner is None or outer is None:
            continue
        n, m, k = inner[0], inner[1], outer[1]
        if not all(isinstance(v, int) for v in (n, m, k)):
            continue
        if m * (n + k) < n * k:  # type: ignore[operator]  # a low-rank factorisation: fewer weights than one layer
            continue
        via = f" (only {', '.join(s.type for s in between)})" if between else ""
        units = "units" if second.type == "Linear" else "channels"
        yield ctx.warning(
            CODE, second, f"it reads {first.who()} with no activation between{via}: the two compose to one "
            f"linear map from {n} to {k} {units}, so the {m} {units} between add parameters but no expressive power",
            f"add an activation such as - {{type: ReLU}} after '{first.node.path}', or merge the two layers "
            "into one")
