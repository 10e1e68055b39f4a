"""L009 softmax-over-batch: Softmax, LogSoftmax or Normalize over dim 0, the batch.

What it does
    Softmax, LogSoftmax or Normalize (F.normalize, an L2 or L1 normalisation) runs over dim 0,
    the batch.

Why is this bad
    Dim 0 holds the samples of a batch: a softmax over it makes each sample's output depend on
    the other samples, and the result changes with the batch size. PyTorch code usually means
    dim=1 or dim=-1. `tf.math.l2_normalize(x, axis=0)` and `F.normalize(x, dim=0)`, written for
    one unbatched vector, divide every embedding by a norm over the whole batch: a metric
    learning model's "unit" vectors are then not unit vectors, and their cosine depends on the
    batch they came in.

Example
    layers:
      - {type: Linear, out_features: 10}
      - {type: Softmax, dim: 0}

Use instead
    Use dim: -1 (the class dim of (B, C)) or dim: 1.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule

CODE = "L009"
NORMALISING = ("Softmax", "LogSoftmax", "Normalize")


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        out = step.out
        if step.type not in NORMALISING or out is None or step.node.result is None:
            continue
        dim = step.node.result.args.get("dim")
        if isinstance(dim, int) and out.rank >= 2 and dim % out.rank == 0:
            yield ctx.warning(CODE, step, f"normalises over dim {dim} of {out}, the batch: each sample's "
                              "output then depends on the others in its batch",
                              f"use dim: -1 (or dim: 1) to normalise over the {out.shape[-1]} values of each "
                              "sample", field="dim")
