"""L062 normalize-across-steps: a Normalize over the positions of a (B, T, D) sequence of vectors.

What it does
    A Normalize (F.normalize) runs over dim 1, its default, or another dim before the last, of a
    (B, T, ..., D) tensor whose D features a Linear, a recurrent layer, attention or an Embedding
    wrote to its last dim (through activations, norms and dropout).

Why is this bad
    `F.normalize(x)` normalises over dim=1, which is the feature dim of a (B, D) embedding and
    of a (B, C, H, W) map, and is copied as is onto a (B, T, D) sequence: there dim 1 holds the
    positions, so each feature is divided by its norm across the sentence, and no position's
    vector has unit length. The cosine similarities that follow (retrieval, contrastive losses,
    ColBERT's token matching) then compare vectors of any length, and a position's value depends
    on the length of the sequence it came in. The shapes do not change, so nothing fails.

Example
    inputs: {tokens: [B, T, 64]}
    layers:
      - {type: Linear, out_features: 32}
      - {type: Normalize}

Use instead
    dim: -1, each position's vector (Sentence-BERT's and ColBERT's `F.normalize(x, dim=-1)`). A
    convolution's (B, C, L) map, whose features are at dim 1, does not fire.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import arg
from .softmax_across_steps import across_positions

CODE = "L062"


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        if step.type != "Normalize":
            continue
        dim, out = arg(step, "dim", 1), step.out
        found = across_positions(step, dim)
        if found is None:
            continue
        made, d = found
        yield ctx.warning(
            CODE, step, f"it normalises over dim {dim} of {out}, the positions: {made.who()} wrote {d} features per "
            f"position to the last dim, so each feature gets unit norm across the positions and no position's vector "
            "has unit length (dim=1 is the features of a (B, D) embedding, not of a sequence)",
            "set dim: -1 to normalise each position's vector", field="dim")
