"""L051 dropout-as-keep-probability: a Dropout's p is 0.9 or more.

What it does
    A dropout layer (Dropout, Dropout1d/2d/3d, AlphaDropout; StochasticDepth or DropPath,
    whose p drops whole residual branches) drops 90% or more of what it reads.

Why is this bad
    PyTorch's p is the probability of dropping a value; TensorFlow 1's ``tf.nn.dropout(x,
    keep_prob)`` and many papers give the probability of keeping it (the stochastic depth
    paper its survival probability). A keep probability of 0.9
    ported as ``p: 0.9`` zeroes nine values in ten and multiplies the rest by 10: the model
    trains on a tenth of its features, and at evaluation, without dropout, sees inputs ten
    times denser than in training. Training loss stays high and the model underfits with no
    error anywhere.

Example
    layers:
      - {type: Linear, out_features: 256}
      - {type: ReLU}
      - {type: Dropout, p: 0.9}     # keep_prob = 0.9 in the TF1 code
      - {type: Linear, out_features: 10}

Use instead
    1 minus the keep probability: ``p: 0.1`` for keep_prob 0.9. A dropout that strong on
    purpose is rare enough to say so with ``ignore: [L051]``.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import arg

CODE = "L051"
# Dropping 9 values in 10 is no regularisation any recipe uses (Srivastava et al.'s dropout
# paper keeps 0.5 to 0.8 of the hidden units, 0.8 of the inputs); keep probabilities are 0.5 to 0.95.
KEEP_LIKE = 0.9


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        p = arg(step, "p", 0.5) if step.family == "dropout" else None
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not KEEP_LIKE <= p < 1:
            continue
        keep = round(1 - p, 6)
        yield ctx.warning(
            CODE, step, f"p: {p:g} zeroes {p:.0%} of what it reads and multiplies the rest by {1 / keep:.3g}: "
            "PyTorch's p is the probability of dropping, where TensorFlow 1's keep_prob (and many papers) give "
            "that of keeping",
            f"use p: {keep:g} for a keep probability of {p:g}", field="p")
