"""L041 softmax-across-space: a Softmax over a spatial dim of conv feature maps.

What it does
    A Softmax or LogSoftmax whose dim is a spatial dim (past 1) of an (N, C, H, W) or
    (N, C, D, H, W) map made by a convolution or a pool (through activations, norms and
    dropout): the default dim: -1 included.

Why is this bad
    A per-pixel classifier normalises each pixel's class scores, the channels at dim 1 of
    PyTorch's layout. Keras' Softmax (axis=-1 by default) does that on its channels-last maps,
    and ported to (N, C, H, W) as it is, or with PyTorch's dim=-1 habit of (B, C) heads, it
    normalises each row's pixels across the width instead: every row sums to 1, classes compete
    with nothing, and the segmentation trains on numbers that mean nothing. The shapes stay
    the same, so nothing fails.

Example
    inputs: {x: [B, 3, 32, 32]}
    layers:
      - {type: Conv2d, out_channels: 5, kernel_size: 1}
      - {type: Softmax}

Use instead
    dim: 1, the classes of each pixel. A spatial softmax (keypoints' soft-argmax) flattens the
    map first, Flatten with start_dim: 2, and normalises the (N, C, H·W) result over dim: -1.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from .concat_across_space import feature_map

CODE = "L041"
NORMALISING = ("Softmax", "LogSoftmax")


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        out = step.out
        if step.type not in NORMALISING or out is None or out.rank not in (4, 5) or step.node.result is None:
            continue
        dim = step.node.result.args.get("dim")
        if not isinstance(dim, int) or dim % out.rank < 2 or not feature_map(step.source):
            continue
        axis = ("depth", "height", "width")[dim % out.rank - out.rank + 3]
        yield ctx.warning(
            CODE, step, f"it normalises over dim {dim} of the feature maps {out}, their {axis}: each row of pixels "
            f"sums to 1 across the {axis}, where each pixel's {out.shape[1]} class scores (dim 1) were meant "
            "(Keras' axis=-1 is the channels of its channels-last maps)",
            "set dim: 1 to normalise each pixel's classes; for a spatial softmax, Flatten with start_dim: 2 first",
            field="dim")
