"""L014 softmax-with-bce: the model ends in Softmax and the loss is a binary cross-entropy.

What it does
    The model ends in Softmax or LogSoftmax, and the loss is BCELoss or BCEWithLogitsLoss.

Why is this bad
    BCE scores each output on its own, as an independent yes/no: the multi-label setting,
    where a sample can have several labels at once. Softmax makes the outputs sum to 1, so
    they compete: at most one label can be near 1, and two true labels can never both be
    predicted. BCEWithLogitsLoss also applies a sigmoid on top of the softmax.

Example
    layers:
      - {type: Linear, out_features: 5}
      - {type: Softmax, dim: 1}
    loss: {type: BCEWithLogitsLoss}

Use instead
    For multi-label targets remove the Softmax and use BCEWithLogitsLoss on the raw outputs
    (a sigmoid per label). For exactly one class per sample use CrossEntropyLoss on the logits.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from ...validate.training import BINARY
from .. import Context, rule
from ..view import removal

CODE = "L014"


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    last = ctx.view.main_output
    if last is None or ctx.loss not in BINARY or last.type not in ("Softmax", "LogSoftmax"):
        return
    yield ctx.warning(
        CODE, last, f"{last.type} makes the outputs compete (they sum to 1), but {ctx.loss} scores each output as "
        "an independent yes/no, so two true labels can never both be predicted",
        f"for several labels per sample {removal(ctx.graph, last)}, and use BCEWithLogitsLoss; for one class per "
        "sample use CrossEntropyLoss on the logits")
