"""L015 two-unit-bce: a binary cross-entropy over two output units.

What it does
    The model outputs two values per sample, (B, 2), and the loss is BCELoss or
    BCEWithLogitsLoss.

Why is this bad
    This is usually a binary classifier written two ways at once. BCE scores every output on
    its own, so with two units it needs a (B, 2) target: a 0/1 label per sample (B,) does not
    fit, and one-hot targets make the two units predict the same fact twice, one of them
    redundant. Two units belong with CrossEntropyLoss (one logit per class); BCE wants one.

Example
    layers:
      - {type: Linear, out_features: 2}
    loss: {type: BCEWithLogitsLoss}

Use instead
    Give the last layer out_features: 1 and keep BCEWithLogitsLoss, or keep 2 units and use
    CrossEntropyLoss. If the two outputs really are two independent yes/no labels, silence
    this with ignore: [L015].
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from ...validate.training import BINARY
from .. import Context, rule

CODE = "L015"


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    last = ctx.view.main_output
    if last is None or last.out is None or ctx.loss not in BINARY:
        return
    if last.out.rank != 2 or last.out.shape[1] != 2 or last.type in ("Softmax", "LogSoftmax"):  # L014's
        return
    yield ctx.warning(
        CODE, last, f"the model outputs 2 values per sample for {ctx.loss}, which scores each one as its own "
        "yes/no: a binary label needs one output (or two with CrossEntropyLoss)",
        "set out_features: 1 for BCEWithLogitsLoss, or keep 2 outputs with CrossEntropyLoss; if these are two "
        f"independent labels, silence this with ignore: [{CODE}]", field="out_features")
