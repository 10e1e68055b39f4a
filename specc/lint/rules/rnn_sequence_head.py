"""L010 rnn-sequence-to-head: a recurrent layer's every step flows into the classifier head.

What it does
    An RNN, LSTM or GRU passes every step (output: sequence) through per-step layers into the
    head, so the model outputs one prediction per step, under a classification, binary or
    regression loss.

Why is this bad
    A model that should give one label (or value) per sequence then gives (B, T, C), one row per
    step. With a binary or regression loss the targets must be per step too: the spec checks and
    runs, and learns the wrong task (or fails on the first batch of per-sequence targets). With
    CrossEntropyLoss the class dim is then the time axis (T051), and the fix that error offers
    for a tagger, class_dim: -1, would train one too; this warning names the layer at fault.

Example
    layers:
      - {type: LSTM, hidden_size: 64}
      - {type: Linear, out_features: 1}
    loss: {type: BCEWithLogitsLoss}

Use instead
    For one label per sequence set output: last (or final_hidden) on the recurrent layer. For
    one label per step (tagging, per-step regression), say so: write output: sequence on the
    recurrent layer, or set class_dim: -1 in a CrossEntropyLoss.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from ...validate.training import BINARY, CLASSIFICATION, REGRESSION, class_dim, classification
from .. import Context, rule
from ..view import RECURRENT, arg, keeps_layout, written

CODE = "L010"
# Regress one value per output unit: a (B, T, K) output needs a target for every step too.


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    last = ctx.view.main_output
    if last is None or ctx.loss not in (*CLASSIFICATION, *BINARY, *REGRESSION):
        return
    loss = ctx.loss_section
    per_class = loss is not None and last.out is not None and classification(loss, last.out)
    if per_class and last.out is not None and class_dim(loss, last.out) == last.out.rank - 1:
        return  # the loss was told the classes are last: one label per step, asked for in so many words
    step, head = last, None
    while step.type not in RECURRENT:
        if not keeps_layout(step) or len(step.consumers) > 1 - step.is_output:
            return
        head = step if step.type == "Linear" and head is None else head
        step = step.source  # type: ignore[assignment]  (keeps_layout implies one source)
    if arg(step, "output") != "sequence" or head is None or last.out is None or last.out.rank != 3:
        return
    if written(step, "output"):
        return  # every step, asked for in so many words
    shape = f"({', '.join(str(d) for d in last.out.shape)})"
    why = (f"{ctx.loss} reads the classes from dim 1, not from the last dim" if per_class
           else f"{ctx.loss} then needs a target for every step")
    per_step = ("set class_dim: -1 in the loss" if per_class else "write output: sequence on it explicitly")
    yield ctx.warning(
        CODE, step, f"every step (output: sequence) flows into the head {head.who()}, so the model outputs "
        f"{shape}, one prediction per step; {why}",
        f"for one label per sequence set output: last (or final_hidden) on '{step.node.path}'; for one label "
        f"per step {per_step}", field="output")
