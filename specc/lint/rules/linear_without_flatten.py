"""L007 linear-without-flatten: a Linear reads a feature map straight from a conv or pool.

What it does
    A Linear reads a rank-3+ tensor straight from a convolution or pooling layer.

Why is this bad
    Linear acts on the last dim only, so after a conv it mixes the values along each row's
    width instead of all the features: the channel and height dims pass through untouched, and
    the layers after it (and the loss) get a shape nobody meant. A Flatten was probably
    forgotten.

Example
    layers:
      - {type: Conv2d, out_channels: 16, kernel_size: 3}
      - {type: ReLU}
      - {type: Linear, out_features: 10}

Use instead
    Add - {type: Flatten} (or a global pooling layer) before the Linear.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from ...shapes.dims import product
from .. import Context, rule
from ..view import Leaf

CODE = "L007"
FEATURE_MAPS = ("conv", "pool")  # layer families whose output is (N, C, *spatial)
# Families that keep every dim where it is, so a conv's layout reaches the Linear unchanged.
SAME_LAYOUT = ("activation", "dropout", "norm")


def _feature_map_source(step: Leaf) -> Leaf | None:
    prev = step.source
    while prev is not None and prev.family in SAME_LAYOUT and prev.out is not None:
        prev = prev.source
    if prev is None or prev.family not in FEATURE_MAPS or _arranged(prev):
        return None
    return prev


def _arranged(pool: Leaf) -> bool:
    """Whether the dims a pooling reads were put in place by a Permute or Transpose, with no
    convolution after it: a Linear over the last dim is then the one the spec arranged for
    (DLinear's moving average, then a Linear over time per channel)."""
    prev = pool
    while prev is not None and prev.family in ("pool", "pad", *SAME_LAYOUT):
        prev = prev.source
    return prev is not None and prev.type in ("Permute", "Transpose")


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        x = step.source.out if step.source is not None else None
        if step.type != "Linear" or x is None or x.rank < 3:
            continue
        conv = _feature_map_source(step)
        if conv is None:
            continue
        flat = product(x.shape[1:])
        factors = "·".join(str(d) for d in x.shape[1:])
        yield ctx.warning(CODE, step, f"reads the {x} output of {conv.who()} and acts on its last dim only; "
                          "a Flatten is probably missing", f"add - {{type: Flatten}} before it (in_features then "
                          f"becomes {flat} = {factors}), or a global pooling layer")
