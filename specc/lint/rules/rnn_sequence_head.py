"""L010 rnn-sequence-to-head: a recurrent layer's every step flows into the classifier head.

What it does
    An RNN, LSTM or GRU passes every step (output: sequence) through per-step layers into the
    classifier head, so the model outputs one prediction per step.

Why is this bad
    A model that should give one label per sequence then gives (B, T, C), one row per step.
    CrossEntropyLoss reads the classes from dim 1, which is now the time axis: the loss
    compares T "classes" per position and the shapes only line up by accident. With a binary
    loss the targets must be per step too. The spec checks and runs, and learns the wrong task.

Example
    layers:
      - {type: LSTM, hidden_size: 64}
      - {type: Linear, out_features: 5}
    loss: {type: CrossEntropyLoss}

Use instead
    For one label per sequence set output: last (or final_hidden) on the recurrent layer. For
    one label per step (tagging), add - {type: Permute, dims: [0, 2, 1]} after the head so the
    classes are dim 1, as CrossEntropyLoss wants.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...diagnostics import Diagnostic
from .. import context, rule
from ..view import BINARY_LOSSES, RECURRENT, arg, keeps_layout, written

if TYPE_CHECKING:
    from ...pipeline import Spec

CODE = "L010"
CLASS_DIM_LOSSES = ("CrossEntropyLoss", "NLLLoss")  # read the classes from dim 1


@rule
def check(spec: Spec) -> Iterator[Diagnostic]:
    ctx = context(spec)
    last = ctx.view.main_output if ctx else None
    if ctx is None or last is None or ctx.loss not in (*CLASS_DIM_LOSSES, *BINARY_LOSSES):
        return
    step, head = last, None
    while step.type not in RECURRENT:
        if not keeps_layout(step) or len(step.consumers) > 1 - step.is_output:
            return
        head = step if step.type == "Linear" and head is None else head
        step = step.source  # type: ignore[assignment]  (keeps_layout implies one source)
    if arg(step, "output") != "sequence" or head is None or last.out is None or last.out.rank != 3:
        return
    if ctx.loss in BINARY_LOSSES and written(step, "output"):
        return  # per-step yes/no targets, asked for in so many words
    shape = f"({', '.join(str(d) for d in last.out.shape)})"
    why = (f"{ctx.loss} reads the classes from dim 1, not from the last dim" if ctx.loss in CLASS_DIM_LOSSES
           else f"{ctx.loss} then needs a target for every step")
    per_step = ("add - {type: Permute, dims: [0, 2, 1]} after the head so the classes are dim 1"
                if ctx.loss in CLASS_DIM_LOSSES else "write output: sequence on it explicitly")
    yield ctx.warning(
        CODE, step, f"every step (output: sequence) flows into the head {head.who()}, so the model outputs "
        f"{shape}, one prediction per step; {why}",
        f"for one label per sequence set output: last (or final_hidden) on '{step.node.path}'; for one label "
        f"per step {per_step}", field="output")
