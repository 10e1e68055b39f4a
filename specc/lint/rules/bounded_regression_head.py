"""L013 bounded-regression-head: a regression model ends in a bounded or non-negative activation.

What it does
    The model ends in Sigmoid, Tanh, Hardtanh, Hardsigmoid, Softsign or Softmax (a bounded range;
    Softmax's outputs also sum to 1), or
    in ReLU, ReLU6 or Softplus after a layer other than Linear (L005 covers that case), and
    the loss is a regression loss: MSELoss, L1Loss, SmoothL1Loss or HuberLoss.

Why is this bad
    A regression target outside the activation's range can never be reached: Sigmoid gives
    (0, 1), Tanh (-1, 1), ReLU nothing below 0, and Softmax, left on a Keras classifier's head
    that was turned into a regression, gives values in (0, 1) that sum to 1 whatever the
    targets. Targets are usually standardised (specc's training does so for the bundled data
    sets), so half of them are negative. Near the bounds
    the activation is flat and its gradient vanishes, so even reachable targets learn slowly.

Example
    layers:
      - {type: Linear, out_features: 1}
      - {type: Sigmoid}
    loss: {type: MSELoss}

Use instead
    End the model with the Linear (or Conv) and let it output any real value. Keep the
    activation only when every target lies inside its range (pixel intensities in [0, 1]
    under Sigmoid) and say so with ignore: [L013] and a comment. An autoencoder (as many
    outputs per sample as one of its inputs has values) does not fire: its targets are its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...diagnostics import Diagnostic
from ...validate.training import REGRESSION
from .. import Context, rule
from ..view import arg, removal

if TYPE_CHECKING:
    from ...graph.ir import Graph
    from ...shapes.tensor import TensorType

CODE = "L013"
RANGE = {"Sigmoid": "(0, 1)", "Hardsigmoid": "[0, 1]", "Tanh": "(-1, 1)", "Hardtanh": "[min_val, max_val]",
         "Softsign": "(-1, 1)", "ReLU": "[0, ∞)", "ReLU6": "[0, 6]", "Softplus": "(0, ∞)",
         "Softmax": "(0, 1)"}
NON_NEGATIVE = ("ReLU", "ReLU6", "Softplus")  # after a Linear these are L005's


def _values_per_sample(t: TensorType | None) -> int | None:
    dims = t.shape[1:] if t is not None else ()
    return math.prod(dims) if t is not None and all(isinstance(d, int) for d in dims) else None  # type: ignore[arg-type]


def _reconstructs_an_input(graph: Graph, out: TensorType | None) -> bool:
    """True when the output has as many values per sample as some input (more than one)."""
    n = _values_per_sample(out)
    if n is None or n < 2:
        return False
    return any(_values_per_sample(t) == n for t in graph.inputs.values())


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    last = ctx.view.main_output
    if last is None or ctx.loss not in REGRESSION or last.type not in RANGE:
        return
    if last.type in NON_NEGATIVE and last.source is not None and last.source.type == "Linear":
        return
    if _reconstructs_an_input(ctx.graph, last.out):
        return  # an autoencoder: its targets are its inputs, whose range (pixels in [0, 1]) the author chose
    span, summed = RANGE[last.type], ""
    if last.type == "Softmax":
        dim = arg(last, "dim", -1)
        size = last.out.shape[dim] if last.out is not None and isinstance(dim, int) and -last.out.rank <= dim < \
            last.out.rank else None
        if size == 1:
            return  # a softmax over one value is 1 whatever the input: L024 says so
        summed = f" and sum to 1 along dim {dim}"
    if last.type == "Hardtanh" and last.node.result is not None:
        a = last.node.result.args
        span = f"[{a.get('min_val', -1.0)}, {a.get('max_val', 1.0)}]"
    yield ctx.warning(
        CODE, last, f"the model ends in {last.type}, so its outputs stay in {span}{summed}, but {ctx.loss} regresses "
        "targets that can lie outside it (standardised targets are negative half the time)",
        f"{removal(ctx.graph, last)} so the model outputs any real value; if every target lies in {span}, keep "
        f"it and silence this with ignore: [{CODE}] and a comment saying so")
