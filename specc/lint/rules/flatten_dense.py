"""L018 flatten-dense-heavy: a Linear right after a Flatten holds most of the model's parameters.

What it does
    A Linear reads a Flatten of a feature map with more than one position (through dropout at
    most), and that one layer holds more than half of all the model's parameters (and at least
    100,000 of them: below that its size costs little).

Why is this bad
    Flattening (B, C, H, W) gives C·H·W features, so the Linear's weights grow with the image
    area: it dominates the model's size, overfits easily, and ties the model to one input
    size. Global average pooling first gives C features that summarise each channel over the
    whole map, which is what modern CNNs (ResNet, MobileNet, EfficientNet) do.

Example
    layers:
      - {type: Conv2d, out_channels: 128, kernel_size: 3, padding: 1}
      - {type: ReLU}
      - {type: Flatten}
      - {type: Linear, out_features: 10}

Use instead
    Put - {type: GlobalAvgPool} (or AdaptiveAvgPool2d with output_size: 1) before the Flatten,
    or replace the Flatten with it. For a (B, T, F) sequence, features last (after an
    Embedding, RNN, attention or Linear), replace the Flatten with - {type: Mean, dim: 1}.
    Classic architectures that keep the big layer on purpose (VGG, AlexNet, LeNet) silence
    this with ignore: [L018].
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..training import LAST_DIM_FEATURES, SAME_LAYOUT, producer
from ..view import arg

CODE = "L018"
SHARE = 0.5  # "most of the parameters"
MIN_PARAMS = 100_000  # a smaller layer is cheap whatever its share (toy and test models)


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    total = ctx.graph.totals()[0]
    for linear in ctx.view.leaves:
        if linear.type != "Linear" or linear.node.result is None:
            continue
        if linear.node.result.params <= SHARE * total or linear.node.result.params < MIN_PARAMS:
            continue
        flat = linear.source
        while flat is not None and flat.family == "dropout":
            flat = flat.source
        fmap = flat.source if flat is not None and flat.type == "Flatten" else None
        x = fmap.out if fmap is not None else None
        if x is None or x.rank < 3 or arg(flat, "start_dim", 1) != 1:  # type: ignore[arg-type]
            continue
        # (B, T, F) from an Embedding, RNN, attention or Linear holds its features last: pooling means
        # averaging the steps (dim 1), not GlobalAvgPool's dims 2+, which would average the features away.
        features_last = producer(fmap, SAME_LAYOUT).family in LAST_DIM_FEATURES  # type: ignore[arg-type]
        if features_last and x.rank != 3:
            continue
        spread = x.shape[1:-1] if features_last else x.shape[2:]
        positions = 1
        for d in spread:
            positions = positions * d if isinstance(d, int) else 0
        channels, out = x.shape[-1 if features_last else 1], arg(linear, "out_features")
        if positions <= 1 or not isinstance(channels, int) or not isinstance(out, int):
            continue
        params = linear.node.result.params
        pooled = channels * out + (out if arg(linear, "bias", True) else 0)
        share = math.floor(100 * params / total)  # never rounded up to "100%" while other layers have weights
        values = f"{positions}·{channels}" if features_last else f"{channels}·{positions}"
        fix = (f"replace '{flat.node.path}' with - {{type: Mean, dim: 1}} (the average over the steps)"  # type: ignore[union-attr]
               if features_last else f"put - {{type: GlobalAvgPool}} before '{flat.node.path}'")  # type: ignore[union-attr]
        yield ctx.warning(
            CODE, linear, f"it holds {params:,} of the model's {total:,} parameters ({share}%), because it reads "
            f"all {values} = {channels * positions:,} values of the flattened output of "
            f"{fmap.who()}",  # type: ignore[union-attr]
            f"{fix}: in_features becomes {channels} and this layer shrinks to {pooled:,} parameters")
