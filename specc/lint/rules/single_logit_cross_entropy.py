"""L008 single-logit-cross-entropy: CrossEntropyLoss or NLLLoss over a single class.

What it does
    CrossEntropyLoss or NLLLoss is computed over a single class.

Why is this bad
    Softmax over one logit is always 1, so the loss is always 0 and nothing is learned; this is the
    classic port of a binary classifier with one output unit to CrossEntropyLoss.

Example
    layers:
      - {type: Linear, out_features: 1}
    loss: {type: CrossEntropyLoss}

Use instead
    For a yes/no target keep one output and use BCEWithLogitsLoss, or give the last layer 2
    outputs (one per class) for CrossEntropyLoss.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from ...validate.training import class_dim, classification
from .. import Context, rule

CODE = "L008"


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    last = ctx.view.main_output
    if last is None or last.out is None:
        return
    loss = ctx.loss_section
    if loss is None or not classification(loss, last.out):
        return
    # The class dim is dim 1 for CrossEntropyLoss, (B, C) or (B, C, d1, ...), unless the loss's class_dim moves it.
    dim = class_dim(loss, last.out)
    if dim is not None and last.out.shape[dim] == 1:
        yield ctx.warning(CODE, last, f"{ctx.loss} sees one class in {last.out}: a softmax over one logit is "
                          "always 1, so the loss is always 0",
                          "for a yes/no target use loss: {type: BCEWithLogitsLoss} with this one output, or "
                          "give this layer 2 outputs for CrossEntropyLoss")
