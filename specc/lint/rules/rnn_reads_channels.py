"""L011 rnn-reads-channels: a recurrent layer reads a Conv1d output (B, C, L) as (B, T, F).

What it does
    An RNN, LSTM or GRU reads the output of a Conv1d (or of a pooling or norm after one), which
    is (B, C, L), with no Permute between.

Why is this bad
    A recurrent layer with batch_first reads (B, T, F): steps along dim 1 and features along
    dim 2. Given (B, C, L) it steps over the C channels and takes the L positions as the
    features of each step, so the time axis is lost and input_size silently becomes the
    sequence length (which also fixes L for good).

Example
    inputs: {signal: [B, 8, 128]}
    layers:
      - {type: Conv1d, out_channels: 32, kernel_size: 5, padding: 2}
      - {type: ReLU}
      - {type: GRU, hidden_size: 64, output: last}

Use instead
    Add - {type: Permute, dims: [0, 2, 1]} before the recurrent layer, so it reads (B, L, C):
    one step per position, the C channels as its features.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import RECURRENT, Leaf, arg

CODE = "L011"
# Layers that keep a (B, C, L) layout: an RNN after them still reads channels as steps.
CHANNELS_FIRST = ("activation", "dropout", "pool")
CHANNEL_NORMS = ("BatchNorm1d", "InstanceNorm1d", "GroupNorm", "Identity")


def _conv_behind(step: Leaf) -> Leaf | None:
    """The 1-d convolution whose (B, C, L) layout reaches ``step`` unchanged, if any."""
    src = step.source
    while src is not None and src.out is not None and src.out.rank == 3:
        if src.family == "conv":
            return src
        if src.family not in CHANNELS_FIRST and src.type not in CHANNEL_NORMS:
            return None
        if src.type in ("Softmax", "LogSoftmax"):
            return None
        src = src.source
    return None


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for rnn in ctx.view.leaves:
        if rnn.type not in RECURRENT:
            continue
        conv = _conv_behind(rnn)
        if conv is None or conv.out is None:
            continue
        c, length = conv.out.shape[1], conv.out.shape[2]
        reads = "(B, T, F)" if arg(rnn, "batch_first", True) else "(T, B, F)"
        yield ctx.warning(
            CODE, rnn, f"it reads {reads}, but gets the (B, C, L) output of {conv.who()}: it would step over "
            f"the {c} channels and read the {length} positions as the features of each step",
            f"add - {{type: Permute, dims: [0, 2, 1]}} before '{rnn.node.path}' so it reads (B, L, C): one step "
            "per position, the channels as features")
