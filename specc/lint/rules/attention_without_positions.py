"""L025 attention-without-positions: self-attention over token embeddings that carry no position.

What it does
    A Transformer encoder (or a self-attention layer) reads an Embedding's output with no
    PositionalEncoding, recurrent or convolutional layer between them, no causal mask and no
    rotary embeddings (``rotary:``).

Why is this bad
    Attention treats its input as a set: shuffle the tokens and each one's output is shuffled
    alike, so a pooled or class-token output is the same for "dog bites man" and "man bites
    dog". PyTorch's nn.TransformerEncoder adds no positions of its own (the paper's sinusoids
    are a separate step), so a model ported without them trains, and never learns word order.

Example
    inputs: {ids: {shape: [B, T], dtype: int64}}
    layers:
      - {type: Embedding, num_embeddings: 1000, embedding_dim: 64}
      - {type: TransformerEncoder, nhead: 4, num_layers: 2}

Use instead
    Add - {type: PositionalEncoding} (sinusoidal or kind: learned) after the Embedding, or give
    a MultiheadAttention rotary: {} (LLaMA's rotary position embeddings).
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf, arg

CODE = "L025"
ATTENTION = ("TransformerEncoder", "TransformerEncoderLayer", "MultiheadAttention")
# Layers that act on each position alone, as attention itself does: positions cannot come from them
ORDERLESS = ("Linear", "LayerNorm", "RMSNorm", "Identity", *ATTENTION)
ORDERLESS_FAMILIES = ("activation", "dropout")


def _rotary(step: Leaf) -> bool:
    """Rotary embeddings (``rotary:``) put the positions into the queries and keys."""
    return bool(arg(step, "rotary_dim"))


def _embedding_behind(step: Leaf) -> Leaf | None:
    """The Embedding whose output reaches ``step`` through order-blind layers only, if any."""
    src = step.source
    while src is not None:
        if src.type == "Embedding":
            return src
        if src.type not in ORDERLESS and src.family not in ORDERLESS_FAMILIES:
            return None
        if src.type in ATTENTION and (arg(src, "causal", False) or len(src.inputs) != 1 or _rotary(src)):
            return None
        src = src.source
    return None


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        # self-attention without a causal mask (a causal mask gives each position its own view)
        if step.type not in ATTENTION or len(step.inputs) != 1 or arg(step, "causal", False) or _rotary(step):
            continue
        embedding = _embedding_behind(step)
        if embedding is None or (step.source is not None and step.source.type in ATTENTION):
            continue
        yield ctx.warning(CODE, step, f"reads the token vectors of {embedding.who()} with no position in them: "
                          "attention sees the tokens as a set, so word order is lost",
                          f"add - {{type: PositionalEncoding}} after '{embedding.node.path}' (or kind: learned)")
