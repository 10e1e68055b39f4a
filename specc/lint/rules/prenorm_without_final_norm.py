"""L060 prenorm-without-final-norm: a pre-norm Transformer stack whose output no LayerNorm follows.

What it does
    A TransformerEncoder or TransformerDecoder with `norm_first: true` and no final norm
    (`norm: false`, the default), or the last of a chain of TransformerEncoderLayer or
    TransformerDecoderLayer with `norm_first: true`, feeds a Linear head or the model's output
    through layers that keep or pick positions (dropout, activations, Select, Slice, Mean,
    Reduce, Identity), with no normalisation on the way.

Why is this bad
    A pre-norm layer normalises what its attention and feed-forward read, and adds their output
    to the residual stream untouched: x + attn(norm(x)) + ff(norm(...)). Nothing normalises the
    stream itself, so its scale grows with every layer, and a head reading it sees a different
    scale at every depth and every step of training. Every pre-norm model ends its stack in a
    LayerNorm: GPT-2's `ln_f`, ViT's `encoder.ln`, LLaMA's final RMSNorm, and PyTorch's own
    `nn.Transformer` builds its encoder and decoder with `norm=LayerNorm(d_model)`. Xiong et al.
    (2020), who analyse the pre-norm Transformer, put the final LayerNorm in it. A post-norm
    layer (`norm_first: false`) ends in its own LayerNorm and does not fire.

Example
    inputs: {tokens: [B, T, 32]}
    layers:
      - {type: PositionalEncoding}
      - {type: TransformerEncoder, nhead: 4, num_layers: 2, dim_feedforward: 64, norm_first: true}
      - {type: Linear, out_features: 10}

Use instead
    On a TransformerEncoder or TransformerDecoder set `norm: true` (a LayerNorm after the last
    layer, `nn.TransformerEncoder(..., norm=nn.LayerNorm(d_model))`); after a chain of layers add
    `- {type: LayerNorm}` (or an RMSNorm) before the head.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf, arg

CODE = "L060"
STACKS = ("TransformerEncoder", "TransformerDecoder")
LAYERS = ("TransformerEncoderLayer", "TransformerDecoderLayer")
# Layers after which the head still reads the residual stream as the stack left it: they pick or
# average positions, or act on each value alone.
THROUGH_TYPES = ("Select", "Slice", "Mean", "Reduce", "Identity", "Dropout", "StochasticDepth", "Flatten")
THROUGH_FAMILIES = ("dropout", "activation")


def _prenorm(step: Leaf) -> bool:
    return step.type in (*STACKS, *LAYERS) and bool(arg(step, "norm_first", False)) and \
        not (step.type in STACKS and arg(step, "norm", False))


def _unnormalised_reader(step: Leaf) -> tuple[Leaf | None, bool]:
    """Where the stream that ``step`` leaves goes with no norm on the way: (the Linear head, or
    None when it is the model's output, True), or (None, False) when something else reads it (a
    norm, another pre-norm layer that carries the stream on, a merge: nothing to say)."""
    seen = step
    while True:
        if seen.is_output and not seen.consumers:
            return None, True
        if len(seen.consumers) != 1:
            return None, False
        nxt = seen.consumers[0]
        if nxt.type == "Linear":
            return nxt, True
        if nxt.inputs[:1] != [seen] or not (nxt.type in THROUGH_TYPES or nxt.family in THROUGH_FAMILIES):
            return None, False
        if nxt.type in ("Softmax", "LogSoftmax", "Sigmoid", "Tanh"):
            return None, False  # a bounded output is a model's answer, not a raw stream read by a head
        seen = nxt


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        if not _prenorm(step):
            continue
        head, fires = _unnormalised_reader(step)
        if not fires:
            continue
        reader = f"the head {head.who()} reads" if head is not None else "the model outputs"
        if step.type in STACKS:
            fix = f"set norm: true on this {step.type} (a LayerNorm after its last layer, as nn.Transformer builds it)"
        else:
            fix = f"add - {{type: LayerNorm}} after '{step.node.path}', before the head"
        yield ctx.warning(
            CODE, step, f"norm_first: true (pre-norm) adds each layer's attention and feed-forward output to the "
            f"residual stream without normalising the stream itself, and {reader} it with no LayerNorm after the "
            "last layer: its scale grows with the depth (GPT-2's ln_f, ViT's and nn.Transformer's final norm end "
            "every pre-norm stack)", fix, field="norm_first")
