"""L050 decoder-sees-the-future: a Transformer decoder trained on a target sequence with no causal mask.

What it does
    A TransformerDecoder or TransformerDecoderLayer without `causal: true` reads, as its target
    (the first of `from: [tgt, memory]`), a sequence fed to the model: a model input, through an
    Embedding, positional encodings and other per-step layers. Decoders whose target is made by
    the model (LearnedTokens: DETR's object queries, decoded all at once) do not fire.

Why is this bad
    `nn.TransformerDecoder` masks nothing unless it is given `tgt_mask`. Trained with teacher
    forcing on the shifted target, step t then attends to the steps after it, among them the
    token it has to predict: the loss falls to almost 0 within an epoch, and generation, which
    has no future tokens to copy, produces garbage. Forgetting
    `generate_square_subsequent_mask(T)` is the most reported Transformer bug.

Example
    inputs: {src: [B, S, 32], tgt: [B, T, 32]}
    layers:
      - {type: TransformerEncoder, from: src, nhead: 4, num_layers: 1, dim_feedforward: 64, name: memory}
      - {type: TransformerDecoder, from: [tgt, memory], nhead: 4, num_layers: 1, dim_feedforward: 64}

Use instead
    Set causal: true on the decoder (specc builds the (T, T) mask of later steps). A decoder
    meant to read the whole target at once can silence this with ignore: [L050].
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf, arg, keeps_layout

CODE = "L050"
DECODERS = ("TransformerDecoder", "TransformerDecoderLayer")
# Layers between a fed sequence and the decoder that keep each step its own: an embedding of
# ids, a position added to each step, a scale.
PER_STEP = ("Embedding", "PositionalEncoding", "Scale", "RMSNorm")


def _fed_input(step: Leaf | str) -> str | None:
    """The model input whose steps reach ``step`` one to one, if any."""
    while isinstance(step, Leaf):
        if step.type not in PER_STEP and not keeps_layout(step):
            return None
        if not step.inputs:
            return None
        step = step.inputs[0]
    return step


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for dec in ctx.view.leaves:
        if dec.type not in DECODERS or arg(dec, "causal", False) or not dec.inputs:
            continue
        fed = _fed_input(dec.inputs[0])
        if fed is None:
            continue
        yield ctx.warning(
            CODE, dec, f"its target, input '{fed}', is attended with no causal mask: trained on the shifted target "
            "(teacher forcing), each step sees the steps after it, the token it must predict among them, so the loss "
            "falls to near 0 and generation, which has no future tokens, fails",
            "set causal: true (PyTorch's tgt_mask of generate_square_subsequent_mask(T))")
