"""L067 adaptive-pool-enlarges: an adaptive pool asked for a larger map than it reads copies values.

What it does
    An AdaptiveAvgPool or AdaptiveMaxPool (1d, 2d, 3d) whose output_size is larger, along a
    dim, than the fixed size it reads: torchvision's VGG or AlexNet head (AdaptiveAvgPool2d(7)
    before a Linear of 512 x 7 x 7) on CIFAR's 32x32 images, whose map is 1x1 by then.

Why is this bad
    An adaptive pool does not pool there: it copies each value into several output cells (a
    1x1 map becomes 49 copies of itself). The model checks and trains, but the Linear after it
    gets the same value many times, with as many times the weights (VGG-16's first classifier
    layer: 102 million parameters reading 512 numbers), slower and more prone to overfit for
    nothing.

Example
    inputs: {image: [B, 64, 2, 2]}
    layers:
      - {type: AdaptiveAvgPool2d, output_size: 7}
      - {type: Flatten}
      - {type: Linear, out_features: 10}

Use instead
    An output_size no larger than the map (output_size: 1, a global average, as torchvision's
    ResNets and the CIFAR VGGs have), or larger inputs.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from ...shapes.dims import product
from .. import Context, rule
from ..view import arg

CODE = "L067"


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for pool in ctx.view.leaves:
        if not pool.type.startswith(("AdaptiveAvgPool", "AdaptiveMaxPool")) or pool.out is None:
            continue
        x, n = ctx.reads(pool), pool.spatial_dims
        if x is None or not n or x.rank < n + 1:
            continue
        sides, made = x.shape[x.rank - n:], pool.out.shape[pool.out.rank - n:]
        if not all(isinstance(d, int) for d in (*sides, *made)) or all(m <= s for s, m in zip(sides, made)):
            continue
        grown = [(s, m) for s, m in zip(sides, made) if m > s]
        copies = product([m for _, m in grown]) / product([s for s, _ in grown])
        fit = [min(s, m) for s, m in zip(sides, made)]
        shown = "x".join(str(d) for d in sides)
        yield ctx.warning(
            CODE, pool, f"output_size: {arg(pool, 'output_size')} asks for a {'x'.join(str(d) for d in made)} map "
            f"from the {shown} map it reads, so it copies values instead of pooling them ({copies:.3g} copies of "
            f"each), and the layers after it get {copies:.3g} times the numbers and weights for the same information",
            f"set output_size: {fit[0] if len(set(fit)) == 1 else fit}"
            + ("" if set(fit) == {1} else " (or 1, a global pool)") + ", or feed larger inputs", field="output_size")
