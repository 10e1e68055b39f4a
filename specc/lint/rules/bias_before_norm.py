"""L004 bias-before-norm: a convolution or Linear with a bias feeds straight into a BatchNorm.

What it does
    A convolution or Linear with a bias feeds straight into a BatchNorm.

Why is this bad
    BatchNorm (and InstanceNorm) subtract the per-channel mean, which cancels any per-channel
    bias added just before: the bias parameters are wasted memory and compute, since the
    norm's own shift does their job.

Example
    layers:
      - {type: Conv2d, out_channels: 64, kernel_size: 3}
      - {type: BatchNorm2d}

Use instead
    Set bias: false on the layer before the BatchNorm.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...diagnostics import Diagnostic
from .. import context, rule

if TYPE_CHECKING:
    from ...pipeline import Spec

CODE = "L004"
# Norms that subtract a mean per channel: a per-channel bias before them cancels out.
CHANNEL_NORMS = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")


@rule
def check(spec: Spec) -> Iterator[Diagnostic]:
    ctx = context(spec)
    if ctx is None:
        return
    for norm in ctx.view.steps:
        prev = norm.source
        if norm.type not in CHANNEL_NORMS or prev is None or prev.node.result is None:
            continue
        if not (prev.family == "conv" or prev.type == "Linear") or not prev.node.result.args.get("bias"):
            continue
        if len(prev.consumers) != 1 or prev.is_output:  # the biased value is used elsewhere too
            continue
        if prev.type == "Linear" and prev.out is not None and prev.out.rank != 2:
            continue  # BatchNorm1d on (N, C, L) normalises dim 1, not the Linear's features
        n = prev.node.result.args.get("out_channels", prev.node.result.args.get("out_features"))
        yield ctx.warning(CODE, prev, f"its {n} bias values are cancelled by {norm.who()}, which subtracts the "
                          "per-channel mean right after", "set bias: false on this layer", field="bias")
