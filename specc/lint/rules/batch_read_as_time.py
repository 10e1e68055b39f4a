"""L023 batch-read-as-time: a batch_first: false layer reads a tensor whose dim 0 is the batch.

What it does
    A recurrent, attention or transformer layer with ``batch_first: false`` reads a tensor
    whose dim 0 is the symbol the spec names its batch (``B``, ``N`` or ``batch``) and whose
    dim 1 is another dim, as a (B, T, F) sequence declared batch first.

Why is this bad
    With ``batch_first: false`` PyTorch reads (T, B, F): the layer steps (or attends) over the
    batch, treats the time steps as independent samples, and mixes samples with each other.
    It checks, trains and exports; the model just answers one row per time step
    (``(T, classes)``) from a mixture of the samples.  PyTorch's default is False, so the
    setting comes along with copied code.

Example
    inputs: {x: [B, T, 8]}
    layers:
      - {type: GRU, hidden_size: 16, batch_first: false, output: last}

Use instead
    Leave batch_first out (specc's default is true), or declare the input time first,
    x: [T, B, 8], if the data really is laid out that way.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import arg

CODE = "L023"
BATCH_NAMES = ("b", "n", "batch", "batch_size", "bs")


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        if arg(step, "batch_first", True) is not False or not step.inputs:
            continue
        x = ctx.reads(step)
        if x is None or x.rank < 2:
            continue
        first, second = str(x.shape[0]), str(x.shape[1])
        if first.lower() not in BATCH_NAMES or second == first:
            continue
        yield ctx.warning(
            CODE, step, f"batch_first: false reads {x} as (time, batch, ...): it steps over {first}, the batch, "
            f"and takes {second} for the samples, mixing the samples of a batch",
            f"leave batch_first out (the default is true), or declare the input time first ([{second}, {first}, "
            "...]) if the data is laid out so", field="batch_first")
