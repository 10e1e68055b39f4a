"""L031 squashed-logits: the logits a Sigmoid or LogSoftmax makes probabilities of are already squashed.

What it does
    The model ends in Sigmoid under BCELoss, or in LogSoftmax under NLLLoss, or the loss is
    BCEWithLogitsLoss (which applies the sigmoid itself), and the values turned into
    probabilities come from an activation with a one-sided or bounded range: ReLU, ReLU6,
    Softplus, Sigmoid, Hardsigmoid, Softmax, Tanh, Softsign or Hardtanh (through dropout and
    reshapes). L003, L014, L005 and L030 cover a Sigmoid or a Softmax under BCEWithLogitsLoss, a
    ReLU right after the final Linear and a bounded activation under CrossEntropyLoss.

Why is this bad
    The sigmoid of a value that is never negative is never below 0.5: a model ending in ReLU
    then Sigmoid cannot answer no (on breast_cancer it trains to val_loss 0.693, every answer
    0.5, ROC AUC 0.5). A bounded value (Tanh's (-1, 1)) gives probabilities within (0.27,
    0.73), never confident, so the loss has a floor; likewise a Softmax's [0, 1] before
    LogSoftmax over K classes caps every class's probability at e/(e + K - 1).

Example
    layers:
      - {type: Linear, out_features: 1}
      - {type: ReLU}
      - {type: Sigmoid}
    loss: {type: BCELoss}

Use instead
    Remove the activation before the Sigmoid or LogSoftmax, so it reads the Linear's raw
    logits (or end the model with the Linear and use BCEWithLogitsLoss or CrossEntropyLoss).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from ...diagnostics import Diagnostic
from ...validate.training import class_dim
from .. import Context, rule
from ..view import Leaf, arg, removal

CODE = "L031"
INF = math.inf
RANGES = {"ReLU": (0.0, INF), "ReLU6": (0.0, 6.0), "Softplus": (0.0, INF), "Sigmoid": (0.0, 1.0),
          "Hardsigmoid": (0.0, 1.0), "Softmax": (0.0, 1.0), "Tanh": (-1.0, 1.0), "Softsign": (-1.0, 1.0)}
# Families that change no value: the activation is found through them.
PASS_THROUGH = ("dropout", "reshape")


def _feeder(step: Leaf | None) -> Leaf | None:
    while step is not None and step.family in PASS_THROUGH:
        step = step.source
    return step


def _range(step: Leaf) -> tuple[float, float] | None:
    if step.type == "Hardtanh":
        return float(arg(step, "min_val", -1.0)), float(arg(step, "max_val", 1.0))  # type: ignore[arg-type]
    return RANGES.get(step.type)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    last = ctx.view.main_output
    if last is None or last.out is None:
        return
    if ctx.loss == "BCEWithLogitsLoss":
        squash, feeder = "BCEWithLogitsLoss's sigmoid", _feeder(last)
        # a final Sigmoid is L003's, a final Softmax L014's, a ReLU right after the final Linear L005's
        if feeder is None or feeder.type in ("Sigmoid", "Softmax") or (
                feeder is last and feeder.type in ("ReLU", "ReLU6", "Softplus") and
                last.source is not None and last.source.type == "Linear"):
            return
    elif (ctx.loss, last.type) in (("BCELoss", "Sigmoid"), ("NLLLoss", "LogSoftmax")):
        squash, feeder = f"{last.who()}", _feeder(last.source)
    else:
        return
    span = _range(feeder) if feeder is not None else None
    if feeder is None or span is None:
        return
    lo, hi = span
    values = f"[{lo:g}, ∞)" if hi == INF else f"[{lo:g}, {hi:g}]"
    fix = (f"remove '{feeder.node.path}' so {squash} reads raw logits" if feeder is not last else
           f"{removal(ctx.graph, feeder)}: BCEWithLogitsLoss takes raw logits")
    if last.type == "LogSoftmax":
        dim = class_dim(ctx.loss_section, last.out) if ctx.loss_section is not None else None
        classes = last.out.shape[dim] if dim is not None else None
        if hi == INF or not isinstance(classes, int) or classes < 2:
            return
        top = math.exp(hi - lo) / (math.exp(hi - lo) + classes - 1)
        if top < 0.9:
            yield ctx.warning(CODE, feeder, f"{squash} makes probabilities of its values, but {feeder.type} keeps "
                              f"them in {values}, so no class of the {classes} can reach a probability above "
                              f"{top:.2g} and {ctx.loss} never falls below {-math.log(top):.2g}", fix)
        return
    p_lo, p_hi = _sigmoid(lo), _sigmoid(hi)
    if p_lo >= 0.5:
        what = "no sample can score below 0.5, so the model cannot learn to answer no"
    elif p_lo > 0.05 or p_hi < 0.95:
        what = "no prediction can be confident, and the loss has a floor"
    else:
        return
    yield ctx.warning(CODE, feeder, f"{squash} makes probabilities of its values, but {feeder.type} keeps them in "
                      f"{values}, so every probability lies in [{p_lo:.2g}, {p_hi:.2g}]: {what}", fix)
