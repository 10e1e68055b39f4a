"""L035 sequences-joined-along-steps: a Concat of sequences joins their steps, by default.

What it does
    A Concat without ``dim`` reads two or more (B, T, F) tensors whose features are last (the
    outputs of Embeddings, recurrent layers' sequences, attention layers, Linears applied per
    step, through activations and dropout).

Why is this bad
    specc's Concat joins along dim 1 by default, the channels of PyTorch's (N, C, …) layout.
    On (B, T, F) sequences dim 1 is the steps: two (B, T, 64) sequences become (B, 2T, 64),
    one sequence after the other, where joining each step's features, (B, T, 128), is what a
    bidirectional pair, a BiDAF/ESIM [a; b; a·b] or Keras' Concatenate (axis -1 by default)
    means. The shapes still fit, so the spec checks and trains on the wrong axis.

Example
    inputs: {x: [B, 20, 8]}
    layers:
      - {type: LSTM, hidden_size: 32, name: fwd}
      - {type: Linear, from: x, out_features: 32, name: proj}
      - {type: Concat, from: [fwd, proj]}

Use instead
    Join the features: dim: -1. Write dim: 1 where one sequence is meant to follow the other
    (a class token or memory put before the steps).
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf, written
from .channels_last_image import makes_sequence, sequence_behind

CODE = "L035"


def _features_last(step: Leaf | str) -> bool:
    """A (B, T, F) sequence: made by ``step`` itself, or reaching it with its layout kept."""
    if not isinstance(step, Leaf) or step.out is None or step.out.rank != 3:
        return False
    return makes_sequence(step, linear=True) or sequence_behind(step, linear=True) is not None


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for cat in ctx.view.leaves:
        if cat.type != "Concat" or written(cat, "dim", "axis") or cat.out is None or cat.out.rank != 3:
            continue
        if len(cat.inputs) < 2 or not all(_features_last(i) for i in cat.inputs):
            continue
        first = cat.inputs[0]
        assert isinstance(first, Leaf) and first.out is not None
        steps = " + ".join(str(i.out.shape[1]) for i in cat.inputs if isinstance(i, Leaf) and i.out is not None)
        width = " + ".join(str(i.out.shape[2]) for i in cat.inputs if isinstance(i, Leaf) and i.out is not None)
        yield ctx.warning(
            CODE, cat, f"it joins {len(cat.inputs)} (B, T, F) sequences along dim 1, the default: their steps, "
            f"{steps}, one after the other, not their features ({width}) at each step",
            "set dim: -1 to join each step's features (Keras' Concatenate does); write dim: 1 if one sequence "
            "is meant to follow the other")
