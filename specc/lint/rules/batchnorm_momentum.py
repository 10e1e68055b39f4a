"""L022 keras-batchnorm-momentum: a BatchNorm momentum written as Keras means it.

What it does
    A BatchNorm1d/2d/3d has momentum 0.5 or more (Keras' default is 0.99).

Why is this bad
    The two frameworks mean opposite things by momentum. In Keras it is the weight of the old
    running statistics; in PyTorch (and so in specc) it is the weight of each new batch. A
    momentum of 0.99 copied from Keras makes the running mean and variance follow the last batch
    almost alone: training looks fine, and evaluation and every export, which use the running
    statistics, see noisy ones.

Example
    inputs: {image: [B, 3, 32, 32]}
    layers:
      - {type: Conv2d, out_channels: 32, kernel_size: 3, bias: false}
      - {type: BatchNorm2d, momentum: 0.99}

Use instead
    1 minus the Keras value: momentum: 0.01 for Keras' 0.99, or leave PyTorch's default 0.1.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import arg

CODE = "L022"
NORMS = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for norm in ctx.view.leaves:
        momentum = arg(norm, "momentum", 0.1) if norm.type in NORMS else None
        if not isinstance(momentum, (int, float)) or isinstance(momentum, bool) or momentum < 0.5:
            continue
        kept = round(1 - momentum, 6)
        yield ctx.warning(
            CODE, norm, f"momentum {momentum:g} weighs each new batch at {momentum:.0%} in PyTorch (Keras' momentum "
            "weighs the old statistics), so the running mean and variance that evaluation and exports use follow "
            "the last batch almost alone",
            f"use momentum: {kept:g} for Keras' {momentum:g}, or leave PyTorch's default 0.1", field="momentum")
