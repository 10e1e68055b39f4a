"""L003 sigmoid-before-bce-logits: the model ends in Sigmoid and the loss is BCEWithLogitsLoss.

What it does
    The model ends in Sigmoid, but BCEWithLogitsLoss applies a sigmoid itself.

Why is this bad
    The loss computes sigmoid(sigmoid(x)): every prediction is squeezed into [0.5, 0.73],
    gradients vanish and the model barely learns, without any error.

Example
    layers:
      - {type: Linear, out_features: 1}
      - {type: Sigmoid}
    loss: {type: BCEWithLogitsLoss}

Use instead
    Remove the final Sigmoid and apply it at inference only; or keep it and use BCELoss, which
    is less numerically stable.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import removal

CODE = "L003"


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    last = ctx.view.main_output
    if last is None or ctx.loss != "BCEWithLogitsLoss" or last.type != "Sigmoid":
        return
    yield ctx.warning(CODE, last, "the model ends in Sigmoid, but BCEWithLogitsLoss applies a sigmoid itself, "
                      "so predictions are squashed twice",
                      f"{removal(ctx.graph, last)} (BCEWithLogitsLoss takes logits), or keep it and use "
                      "loss: {type: BCELoss}")
