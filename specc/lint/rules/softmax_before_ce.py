"""L001 softmax-before-ce: the model ends in Softmax or LogSoftmax and the loss is CrossEntropyLoss.

What it does
    The model ends in Softmax or LogSoftmax, but CrossEntropyLoss applies log-softmax itself.

Why is this bad
    CrossEntropyLoss expects raw logits. A Softmax before it squashes them into [0, 1], so the
    loss computes log_softmax(softmax(x)): gradients shrink, learning stalls, and the loss never
    gets near 0. A LogSoftmax before it does no harm, as log_softmax of log-probabilities gives
    them back unchanged (the loss and its gradients are the logits'): the layer is redundant work
    and reads as if the loss were NLLLoss.

Example
    layers:
      - {type: Linear, out_features: 10}
      - {type: Softmax, dim: 1}
    loss: {type: CrossEntropyLoss}

Use instead
    Remove the final Softmax and apply softmax only where probabilities are needed, at
    inference. (LogSoftmax followed by NLLLoss is the other correct pairing.)
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from ...validate.training import class_dim
from .. import Context, rule
from ..view import removal

CODE = "L001"
SOFTMAX = ("Softmax", "LogSoftmax")


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    last = ctx.view.main_output
    if last is None or ctx.loss != "CrossEntropyLoss" or last.type not in SOFTMAX:
        return
    dim = last.node.result.args.get("dim") if last.node.result is not None else None
    if last.type == "LogSoftmax" and last.out is not None and isinstance(dim, int) and \
            class_dim(ctx.loss_section, last.out) == dim % max(last.out.rank, 1):
        # log_softmax(log_softmax(x)) = log_softmax(x): the same loss and gradients, so no "twice" to fear
        yield ctx.warning(CODE, last, "the model ends in LogSoftmax, and CrossEntropyLoss applies log-softmax "
                          "again: on log-probabilities that changes nothing, so it trains as on the logits, but the "
                          "layer is redundant",
                          f"{removal(ctx.graph, last)}: CrossEntropyLoss takes raw logits (or keep it and use "
                          "loss: {type: NLLLoss}, the loss LogSoftmax is written for)")
        return
    yield ctx.warning(CODE, last, f"the model ends in {last.type}, but CrossEntropyLoss applies log-softmax "
                      "itself, so the outputs are normalised twice",
                      f"{removal(ctx.graph, last)}: CrossEntropyLoss takes raw logits (or use LogSoftmax with "
                      "NLLLoss)")
