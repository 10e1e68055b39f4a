"""L039 concat-across-space: a Concat of feature maps joins them along a spatial dim.

What it does
    A Concat written with ``dim: -1`` (or another dim past 1) reads two or more (N, C, H, W)
    or (N, C, D, H, W) maps made by convolutions or pools (through activations, norms and
    dropout), so it joins their widths (or heights), not their channels.

Why is this bad
    Keras' Concatenate(axis=-1) joins the channels of its channels-last (N, H, W, C) maps, and
    ported as it is to PyTorch's (N, C, H, W) it puts the two maps side by side: two (N, 16,
    32, 32) branches become (N, 16, 32, 64) where (N, 32, 32, 32) was meant. The shapes fit
    whenever the branches have the same channels, so the spec checks, and every later conv
    mixes pixels of one branch with the other's across the seam while the channels stay half.

Example
    inputs: {x: [B, 3, 32, 32]}
    layers:
      - {type: Conv2d, out_channels: 16, kernel_size: 3, padding: 1, name: a}
      - {type: Conv2d, out_channels: 16, kernel_size: 5, padding: 2, from: x, name: b}
      - {type: Concat, from: [a, b], dim: -1}

Use instead
    Join the channels: dim: 1 (the default). Keep a spatial dim only where the maps are meant
    to be stitched side by side.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf, arg, keeps_layout, written

CODE = "L039"
MAPS = ("conv", "pool")  # families whose output is (N, C, *spatial), channels at dim 1
THROUGH = ("norm", "resample")  # keep (N, C, *spatial) as it is, channels included


def feature_map(step: Leaf | str | None) -> bool:
    """Whether ``step`` gives an (N, C, *spatial) map of rank 4 or 5 made by a conv or a pool."""
    while isinstance(step, Leaf) and step.out is not None and step.out.rank in (4, 5):
        if step.family in MAPS:
            return True
        if not (keeps_layout(step) or step.family in THROUGH) or step.type == "Linear" or step.source is None:
            return False
        step = step.source
    return False


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for cat in ctx.view.leaves:
        if cat.type != "Concat" or not written(cat, "dim", "axis") or cat.out is None or cat.out.rank not in (4, 5):
            continue
        dim = arg(cat, "dim", 1)
        if not isinstance(dim, int) or dim % cat.out.rank < 2:
            continue
        if len(cat.inputs) < 2 or not all(feature_map(i) for i in cat.inputs):
            continue
        rank = cat.out.rank
        axis = ("depth", "height", "width")[3 - (rank - 2) + (dim % rank) - 2]
        channels = " + ".join(str(i.out.shape[1]) for i in cat.inputs if isinstance(i, Leaf) and i.out is not None)
        yield ctx.warning(
            CODE, cat, f"it joins {len(cat.inputs)} (N, C, {'D, ' if rank == 5 else ''}H, W) feature maps along "
            f"dim {dim}, their {axis}, giving {cat.out}: the maps side by side, not their channels ({channels}) "
            "stacked (Keras' Concatenate(axis=-1) is the channels of its channels-last maps)",
            "set dim: 1 to join the channels; keep a spatial dim only where the maps are meant to be stitched "
            "side by side", field="dim")
