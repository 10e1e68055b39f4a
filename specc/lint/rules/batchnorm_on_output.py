"""L029 batchnorm-on-output: a BatchNorm produces the trained output.

What it does
    The model ends in BatchNorm1d, BatchNorm2d or BatchNorm3d (a Keras habit:
    Dense, then BatchNormalization, then the loss), and a classification, binary or regression
    loss trains that output.

Why is this bad
    While training, BatchNorm makes each output unit's values over the batch have mean beta and
    spread gamma, whatever the samples are: a batch of only positive examples gets as many low
    scores as a mixed one, and a regression cannot predict a batch of large targets as large.
    Each prediction depends on the other samples of its batch, and at inference the running
    statistics give a different function from the one trained (with batch_size: 1 it stops).
    Trained 15 epochs, digits ends at val_loss 0.24 with it and 0.10 without; breast_cancer at
    0.36 and 0.16 (accuracy 0.92 and 0.95).

Example
    layers:
      - {type: Linear, out_features: 10}
      - {type: BatchNorm1d}
    loss: {type: CrossEntropyLoss}

Use instead
    End the model with the Linear (or convolution): put the BatchNorm on hidden features,
    between a hidden layer and its activation.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from ...validate.training import BINARY, CLASSIFICATION, REGRESSION
from .. import Context, rule
from ..view import Leaf

CODE = "L029"
BATCH_NORMS = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")


def batchnorms_on_outputs(ctx: Context) -> Iterator[tuple[Leaf, str]]:
    """Each trainable BatchNorm that produces an output a classification, binary or regression
    loss trains (weight 0 trains nothing), with that loss's type. A frozen one reads its running
    statistics, as at inference."""
    section = ctx.loss_section
    if isinstance(section, dict):
        trained = [(step, getattr(section.get(name), "type", None)) for name, step in ctx.view.outputs
                   if getattr(section.get(name), "weight", 1) != 0]
    else:
        trained = [(ctx.view.main_output, ctx.loss)]
    for step, loss in trained:
        if isinstance(step, Leaf) and loss in CLASSIFICATION | BINARY | REGRESSION and \
                step.type in BATCH_NORMS and step.node.trainable:
            yield step, loss


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for norm, loss in batchnorms_on_outputs(ctx):
        before = norm.source
        ends = f" so the model ends with {before.who()}" if before is not None else ""
        yield ctx.warning(CODE, norm, f"the model's output is normalised over each batch: while training, every "
                          f"output unit has the same mean and spread in every batch whatever its samples, so "
                          f"{loss} is computed on predictions that depend on the rest of the batch",
                          f"remove '{norm.node.path}'{ends}; a BatchNorm belongs on hidden features, between a "
                          "layer and its activation")
