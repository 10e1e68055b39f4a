"""L065 sequence-first-into-batch-first: a time-first (T, B, ...) input read by a batch-first layer.

What it does
    An input is declared with the batch symbol (``B``, ``N``, ``batch``, ``bs``) at dim 1 and
    another symbol at dim 0, the (T, B) ids or (T, B, F) features of sequence-first code
    (torchtext, fairseq, PyTorch's own nn.Transformer tutorial), and a recurrent, attention or
    transformer layer with ``batch_first: true`` (specc's default) reads it in that layout.

Why is this bad
    A batch-first layer reads (B, T, F): it takes the time steps for the samples and steps (or
    attends) over the batch, so every sample mixes with the others of its batch and no sample
    sees its own sequence. It checks, trains and exports, and silently learns from a mixture.

Example
    inputs: {ids: {shape: [T, B], dtype: int64}}
    layers:
      - {type: Embedding, num_embeddings: 1000, embedding_dim: 32}
      - {type: PositionalEncoding, kind: learned, max_len: 64}
      - {type: MultiheadAttention, num_heads: 4}

Use instead
    Declare the input batch first (``ids: [B, T]``, the samples in dim 0 as data files hold
    them), or set ``batch_first: false`` on the layer if the tensor really is time first, or
    Transpose dims 0 and 1 before it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from ...shapes.dims import Dim
from .. import Context, rule
from ..view import arg
from .batch_read_as_time import BATCH_NAMES

CODE = "L065"
# Families whose layers mix the positions of a sequence: read with the batch where its time is, they mix samples.
MIXERS = ("recurrent", "attention")
# Those families' layers that add or pick and mix no positions.
NOT_MIXING = ("PositionalEncoding", "ClassToken", "LearnedTokens", "Select")


def _batch_named(d: object) -> bool:
    return isinstance(d, Dim) and str(d) in d.symbols() and str(d).lower() in BATCH_NAMES


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    said: set[str] = set()
    for step in ctx.view.leaves:
        if step.family not in MIXERS or step.type in NOT_MIXING or arg(step, "batch_first") is not True or \
                not step.inputs:
            continue
        x = ctx.reads(step)
        if x is None or x.rank < 3 or not _batch_named(x.shape[1]) or _batch_named(x.shape[0]) or \
                x.shape[0] == x.shape[1]:
            continue
        batch, time = x.shape[1], x.shape[0]
        name = next((n for n, t in ctx.graph.inputs.items()
                     if t.rank >= 2 and t.shape[0] != batch and batch in t.shape[1:]), None)
        if name is None or name in said:
            continue
        said.add(name)
        t = ctx.graph.inputs[name]
        at = t.shape.index(batch)
        over = "steps over" if step.family == "recurrent" else "attends across"
        first = [t.shape[at], *(d for i, d in enumerate(t.shape) if i != at)]
        yield ctx.input_warning(
            CODE, name, step, f"declared {t} with the batch {batch} at dim {at}, and {step.who()} (batch_first: true) "
            f"reads {x} as (batch, time, ...): it takes the {time} steps for the samples and {over} the batch, "
            "mixing the samples of each batch",
            f"declare {name}: [{', '.join(str(d) for d in first)}] (samples first, as data files hold them), or set "
            f"batch_first: false on {step.who()} if the data really is time first")
