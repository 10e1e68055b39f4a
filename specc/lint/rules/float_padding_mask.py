"""L040 float-padding-mask: a key-padding mask given as float 0/1 values is added, not applied.

What it does
    An attention or Transformer layer lists a mask in ``masks:`` (``key_padding`` or
    ``memory_key_padding``) that is a model input of a float dtype.

Why is this bad
    PyTorch reads a bool padding mask as "hide where true", but adds a float mask to the
    attention scores before the softmax. Padding masks arrive from tokenizers as 0/1 numbers
    (Hugging Face's attention_mask, 1 for a real token), and fed as float32 they shift some
    scores by 1, which hides nothing: every query still attends to the padding, and the
    model's answers change with the padded length. Nothing fails, and the warning PyTorch
    gives for mixed mask types does not come with one mask alone.

    A spec does not say what the mask holds, so the warning is given on its dtype; where check
    reads the data (train.data names a file) and the mask holds 0 and -inf (or -1e4 and below)
    only, it is the additive mask PyTorch means and the warning is taken back. Masks are never
    scaled by preprocessing, and -inf is allowed in them.

Example
    inputs:
      x: [B, T, 64]
      pad: [B, T]
    layers:
      - {type: TransformerEncoderLayer, nhead: 4, dim_feedforward: 128, masks: [key_padding], from: [x, pad]}

Use instead
    Declare the mask bool, pad: {shape: [B, T], dtype: bool}, true at the padded positions
    (a tokenizer's attention_mask is true at the real tokens: feed attention_mask == 0). A float
    mask is for additive biases: 0 where a key is seen, -inf where it is hidden.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import arg

CODE = "L040"
PADDING = ("key_padding", "memory_key_padding")


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        masks = arg(step, "masks")
        if not masks or not isinstance(masks, (list, tuple)):
            continue
        # the masks are the last len(masks) inputs, in the order masks: lists them
        names = step.node.inputs[len(step.node.inputs) - len(masks):]
        for kind, ref in zip(masks, names):
            x = ctx.graph.inputs.get(ref)
            if kind not in PADDING or x is None or not x.is_float:
                continue
            yield ctx.warning(
                CODE, step, f"the {kind} mask '{ref}' is {x.dtype}: PyTorch adds a float mask to the attention "
                "scores instead of hiding the keys, so 0/1 values shift scores by 1 and every query still attends "
                "to the padding",
                f"declare '{ref}' with dtype: bool, true at the padded positions (a tokenizer's attention_mask is "
                "true at the real tokens: feed attention_mask == 0)", field="masks")
