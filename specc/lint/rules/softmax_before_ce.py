"""L001 softmax-before-ce: the model ends in Softmax or LogSoftmax and the loss is CrossEntropyLoss.

What it does
    The model ends in Softmax or LogSoftmax, but CrossEntropyLoss applies log-softmax itself.

Why is this bad
    CrossEntropyLoss expects raw logits. A Softmax before it squashes them into [0, 1], so the
    loss computes log_softmax(softmax(x)): gradients shrink, learning stalls, and the loss never
    gets near 0. A LogSoftmax before it is applied twice, which wastes work and hides the intent.

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
from .. import Context, rule
from ..view import removal

CODE = "L001"
SOFTMAX = ("Softmax", "LogSoftmax")


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    last = ctx.view.main_output
    if last is None or ctx.loss != "CrossEntropyLoss" or last.type not in SOFTMAX:
        return
    yield ctx.warning(CODE, last, f"the model ends in {last.type}, but CrossEntropyLoss applies log-softmax "
                      "itself, so the outputs are normalised twice",
                      f"{removal(ctx.graph, last)}: CrossEntropyLoss takes raw logits (or use LogSoftmax with "
                      "NLLLoss)")
