"""L068 reduced-over-batch: an argmax, a reduction or a running sum along the batch dim.

What it does
    ArgMax, ArgMin or SoftArgmax searches, Reduce or Mean reduces (without keepdim), or CumSum
    accumulates along the dim that holds the batch: the model inputs' first symbol (``B`` of
    ``[B, 16]``), wherever a layer moved it.

Why is this bad
    ``logits.argmax(0)``, ``x.mean(0)`` and ``np.cumsum(x, axis=0)`` are written for one
    unbatched sample, where dim 0 is the classes or the steps; on a batch, dim 0 holds the
    samples. ArgMax then answers, for each class, which sample of the batch scored it highest,
    and a mean over dim 0 leaves one row for the whole batch: the model no longer answers one
    row per sample, each answer depends on the rest of the batch, and PyTorch runs it without an
    error at any batch size. (A trained output without its batch rows is T003 besides.)

Example
    layers:
      - {type: Linear, out_features: 10}
      - {type: ArgMax, dim: 0}

Use instead
    Search or reduce along each sample's own dims: ``dim: -1`` (or ``dim: 1``) for the classes
    of ``(B, C)``. A statistic of the batch broadcast back to its samples (StyleGAN's minibatch
    standard deviation) keeps the batch dim with ``keepdim: true``, and is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from ...shapes.dims import Dim
from .. import Context, rule
from ..view import arg
from .batch_read_as_time import BATCH_NAMES

CODE = "L068"
SEARCHES = ("ArgMax", "ArgMin", "SoftArgmax")
REDUCES = ("Reduce", "Mean")
WHAT = {"ArgMax": "the largest value", "ArgMin": "the smallest value", "SoftArgmax": "the expected index"}


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    batch = ctx.graph.batch
    declared = {str(d) for t in ctx.graph.inputs.values() if t is not None for d in t.shape if isinstance(d, Dim)}
    if batch is None or (batch.lower() not in BATCH_NAMES and any(n.lower() in BATCH_NAMES for n in declared)):
        return  # sequence-first inputs ([T, B, F]) read by no batch_first: false layer: dim 0 is the steps
    for step in ctx.view.leaves:
        if step.type not in SEARCHES + REDUCES + ("CumSum",) or step.node.result is None:
            continue
        x = ctx.reads(step)
        given = step.node.result.args.get("dim")
        if x is None or x.rank < 2 or given is None:
            continue
        dims = [d % x.rank for d in ((given,) if isinstance(given, int) else given)]
        at = next((d for d in dims if isinstance(x.shape[d], Dim) and str(x.shape[d]) == batch), None)
        if at is None or (step.type in REDUCES and arg(step, "keepdim") is True):
            continue
        if at != x.rank - 1:
            per_sample = "dim: -1" + (f" (or dim: {x.rank - 1})" if x.rank == 2 else "")
        else:
            per_sample = f"dim: {x.rank - 2}"
        if step.type in SEARCHES:
            said = (f"searches dim {at} of {x}, the batch {batch}: it answers which sample of the batch holds "
                    f"{WHAT[step.type]} at each position, not each sample's own index")
        elif step.type == "CumSum":
            said = (f"sums along dim {at} of {x}, the batch {batch}: each sample's output adds in the samples "
                    "before it in its batch")
        else:
            op = arg(step, "op", "mean")
            out = step.out
            said = (f"takes the {op} over dim {at} of {x}, the batch {batch}: "
                    + (f"the output {out} keeps one answer for the whole batch, not one per sample"
                       if out is not None and batch not in {str(d) for d in out.shape} else
                       "each sample's output then depends on the others in its batch"))
        yield ctx.warning(CODE, step, said,
                          f"use {per_sample} to work along each sample's own values"
                          + (", or keepdim: true for a statistic of the batch given back to each sample"
                             if step.type in REDUCES else ""), field="dim")
