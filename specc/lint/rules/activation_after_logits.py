"""L005 activation-after-logits: ReLU (or another non-negative activation) after the final Linear.

What it does
    A non-negative activation (ReLU, ReLU6, Softplus) follows the final Linear.

Why is this bad
    Logits and regression outputs need negative values: CrossEntropyLoss reads a negative
    logit as a low probability, and a regression target below 0 becomes unreachable. ReLU
    also zeroes the gradient of every negative output, so those outputs can stop learning.

Example
    layers:
      - {type: Linear, out_features: 10}
      - {type: ReLU}
    loss: {type: CrossEntropyLoss}

Use instead
    End the model with the Linear; put activations between hidden layers only.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import removal

CODE = "L005"
NON_NEGATIVE = ("ReLU", "ReLU6", "Softplus")
# Losses whose targets or logits take negative values (BCELoss wants probabilities: not here).
LOSSES = ("CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss")


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    last = ctx.view.main_output
    if last is None or ctx.loss not in LOSSES or last.type not in NON_NEGATIVE:
        return
    linear = last.source
    if linear is None or linear.type != "Linear":
        return
    yield ctx.warning(CODE, last, f"{last.type} after the final Linear '{linear.node.path}' clips the outputs "
                      f"at 0, but {ctx.loss} needs negative values too",
                      f"{removal(ctx.graph, last)} so the model ends with the Linear")
