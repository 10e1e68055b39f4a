"""L004 bias-before-norm: a convolution or Linear bias is cancelled by the norm it feeds.

What it does
    A convolution or Linear with a bias feeds a BatchNorm or InstanceNorm (or a GroupNorm with
    one channel per group), directly or through layers that keep a per-channel shift: max
    pooling, unpadded average pooling, Identity, an Add or a channel Concat.

Why is this bad
    These norms subtract the per-channel mean, which cancels any per-channel bias added
    before: the bias parameters are wasted memory and compute, since the norm's own shift does
    their job. (LayerNorm, and GroupNorm over several channels, subtract a mean across
    channels, which keeps a per-channel bias: those are not flagged.)

Example
    layers:
      - {type: Conv2d, out_channels: 64, kernel_size: 3}
      - {type: BatchNorm2d}

Use instead
    Set bias: false on the layer before the norm.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf, arg
from .batchnorm_on_output import batchnorms_on_outputs

CODE = "L004"
# Norms that subtract a mean per channel: a per-channel bias before them cancels out.
CHANNEL_NORMS = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
# A per-channel shift of their input is a per-channel shift of their output (max(x + b) = max(x) + b).
SHIFT_KEEPING = ("MaxPool1d", "MaxPool2d", "MaxPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
                 "AdaptiveMaxPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
                 "GlobalAvgPool", "GlobalMaxPool", "Identity")
AVG_POOLS = ("AvgPool1d", "AvgPool2d", "AvgPool3d")


def _cancels(norm: Leaf) -> bool:
    if norm.type in CHANNEL_NORMS:
        return True
    # One channel per group: GroupNorm is InstanceNorm then, and subtracts each channel's mean.
    return norm.type == "GroupNorm" and arg(norm, "num_groups") == arg(norm, "num_channels")


def _keeps_shift(step: Leaf) -> bool:
    if step.type in SHIFT_KEEPING:
        return True
    if step.type in AVG_POOLS:  # zero padding averages the border with values that have no bias
        pad = arg(step, "padding", 0)
        return all(p == 0 for p in (pad if isinstance(pad, (tuple, list)) else (pad,)))
    if step.type == "Add":
        return True
    return step.type == "Concat" and arg(step, "dim") in (1, -(step.out.rank - 1) if step.out else 1)


def _biased(norm: Leaf) -> Iterator[tuple[Leaf, list[Leaf]]]:
    """Biased conv/Linear layers whose output reaches ``norm`` only, through shift-keeping layers."""
    stack: list[tuple[Leaf, list[Leaf]]] = [(i, []) for i in norm.inputs[:1] if isinstance(i, Leaf)]
    while stack:
        step, path = stack.pop()
        if len(step.consumers) != 1 or step.is_output:  # the biased value is used elsewhere too
            continue
        if step.family == "conv" or step.type == "Linear":
            if arg(step, "bias") and not (step.type == "Linear" and (step.out is None or step.out.rank != 2)):
                yield step, path  # (a Linear on (N, L, C) feeds BatchNorm1d's dim 1, not its features)
            continue
        if _keeps_shift(step):
            stack.extend((i, [*path, step]) for i in step.inputs if isinstance(i, Leaf))


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    wrong_place = [norm for norm, _ in batchnorms_on_outputs(ctx)]
    for norm in ctx.view.leaves:
        if not _cancels(norm) or norm in wrong_place:  # L029 says to remove the norm: no bias advice
            continue
        for prev, path in _biased(norm):
            n = arg(prev, "out_channels", arg(prev, "out_features"))
            via = f" (through {', '.join(s.who() for s in reversed(path))})" if path else ""
            yield ctx.warning(CODE, prev, f"its {n} bias values are cancelled by {norm.who()}{via}, which subtracts "
                              "the per-channel mean", "set bias: false on this layer", field="bias")
