"""L030 bounded-logits-into-ce: the model ends in Sigmoid, Tanh or another bounded activation before CrossEntropyLoss.

What it does
    The model's output comes from an activation with a bounded range (Sigmoid, Hardsigmoid,
    Tanh, Softsign, Hardtanh) and the loss is CrossEntropyLoss, which reads it as logits.

Why is this bad
    CrossEntropyLoss applies its own softmax to logits of any size. Squashed into a range of
    width w, the logits cap every class's probability at e^w / (e^w + K - 1): with a Sigmoid
    (w = 1) and 10 classes no prediction passes 0.23, so the loss never falls below 1.47 and
    the gradients stay small, however well the model ranks the classes. It is a Keras habit
    (a sigmoid head) or a multi-label head kept for a single-label loss.

Example
    layers:
      - {type: Linear, out_features: 10}
      - {type: Sigmoid}
    loss: {type: CrossEntropyLoss}

Use instead
    Remove the activation: CrossEntropyLoss takes raw logits. For independent yes/no labels
    keep the raw outputs and use BCEWithLogitsLoss.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from ...diagnostics import Diagnostic
from ...validate.training import class_dim, classification
from .. import Context, rule
from ..view import arg, removal

CODE = "L030"
# The width of each bounded activation's range (Hardtanh's is read from its arguments).
WIDTH = {"Sigmoid": 1.0, "Hardsigmoid": 1.0, "Tanh": 2.0, "Softsign": 2.0}


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    last = ctx.view.main_output
    loss = ctx.loss_section
    if last is None or last.out is None or ctx.loss != "CrossEntropyLoss" or not classification(loss, last.out):
        return
    if last.type == "Hardtanh":
        width = float(arg(last, "max_val", 1.0)) - float(arg(last, "min_val", -1.0))  # type: ignore[arg-type]
    elif last.type in WIDTH:
        width = WIDTH[last.type]
    else:
        return
    dim = class_dim(loss, last.out)
    classes = last.out.shape[dim] if dim is not None else None
    if not isinstance(classes, int) or classes < 2:
        return  # one class is L008's
    top = math.exp(width) / (math.exp(width) + classes - 1)
    yield ctx.warning(CODE, last, f"the model ends in {last.type}, but CrossEntropyLoss reads its outputs as "
                      f"logits: squashed into a range of width {width:g}, no class of the {classes} can reach a "
                      f"probability above {top:.2g}, so the loss never falls below {-math.log(top):.2g}",
                      f"{removal(ctx.graph, last)}: CrossEntropyLoss takes raw logits (for independent yes/no labels "
                      "use BCEWithLogitsLoss on them)")
