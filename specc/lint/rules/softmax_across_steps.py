"""L052 softmax-across-steps: a model that ends in a Softmax over the steps of a (B, T, K) output.

What it does
    The model's output is a Softmax or LogSoftmax over dim 1 (or another dim before the last)
    of a (B, T, K) tensor whose K features a Linear, a recurrent layer, attention or an
    Embedding wrote to its last dim (through activations, norms and dropout), with K above 1.

Why is this bad
    A tagger or a language model scores K classes at each of T positions, in the last dim.
    ``nn.Softmax(dim=1)``, right on a (B, C) classifier, is copied onto the (B, T, K) head: it
    normalises each class across the positions instead, so every class's scores sum to 1 over
    the sentence, and the K scores of a position compete with nothing. The shapes do not change,
    so nothing fails; argmax over the classes then reads numbers that mean nothing.

Example
    inputs: {tokens: [B, T, 64]}
    layers:
      - {type: Linear, out_features: 9}
      - {type: Softmax, dim: 1}

Use instead
    dim: -1, each position's K classes. Attention pooling, which does normalise over the
    steps, scores each step with one number (a (B, T, 1) output) and multiplies the weights
    back into the sequence, so it is not a model output and stays quiet.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf, arg

CODE = "L052"
NORMALISING = ("Softmax", "LogSoftmax")
LAST_DIM_FEATURES = ("linear", "recurrent", "attention", "embedding")
THROUGH = ("activation", "norm", "dropout")


def _features_last(step: Leaf | str | None) -> Leaf | None:
    """The layer that wrote the last dim of ``step``'s (B, T, ..., K) output as features."""
    while isinstance(step, Leaf) and step.out is not None:
        if step.family in LAST_DIM_FEATURES:
            return step
        if step.family not in THROUGH or step.source is None:
            return None
        step = step.source
    return None


def across_positions(step: Leaf, dim: object) -> tuple[Leaf, int] | None:
    """Where ``step`` normalises a rank >= 3 output over ``dim``, a middle dim (the positions) while a
    features-last layer wrote the last: that layer and its width; else None."""
    out = step.out
    if out is None or out.rank < 3 or not isinstance(dim, int) or not 1 <= dim % out.rank < out.rank - 1:
        return None
    made, width = _features_last(step.source), out.shape[-1]
    return (made, width) if made is not None and isinstance(width, int) and width >= 2 else None


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    outputs = {id(step) for _, step in ctx.view.outputs if not isinstance(step, str)}
    for step in ctx.view.leaves:
        if step.type not in NORMALISING or id(step) not in outputs:
            continue
        dim, out = arg(step, "dim"), step.out
        found = across_positions(step, dim)
        if found is None:
            continue
        made, k = found
        yield ctx.warning(
            CODE, step, f"it normalises over dim {dim} of {out}, the positions: {made.who()} wrote {k} scores per "
            f"position to the last dim, and each of them now sums to 1 across the positions while a position's {k} "
            "scores compete with nothing (dim=1 is a (B, C) classifier's classes)",
            "set dim: -1 to normalise each position's scores", field="dim")
