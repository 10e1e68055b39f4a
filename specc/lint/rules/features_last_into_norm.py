"""L021 features-last-into-norm: a BatchNorm1d or InstanceNorm1d normalises a sequence's steps.

What it does
    A BatchNorm1d or InstanceNorm1d with num_features left to inference reads a (B, T, F)
    tensor whose features are last: the output of a Linear applied per step, an Embedding, a
    recurrent layer's sequence or an attention layer (through activations and dropout).

Why is this bad
    These norms read (N, C, L) and normalise per channel, dim 1. On (B, T, F) specc infers
    num_features as the T steps, so each time step gets its own statistics and scale while
    the F features are mixed together: the spec checks and trains, but the model normalises
    the wrong axis, and is tied to one sequence length.

Example
    inputs: {x: [B, 20, 32]}
    layers:
      - {type: Linear, out_features: 64}
      - {type: BatchNorm1d}

Use instead
    Normalise the features: - {type: LayerNorm} (what transformers do), or a Permute to
    (B, F, T) before the norm and back after it: - {type: Permute, dims: [0, 2, 1]}.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import written
from .channels_last_image import sequence_behind

CODE = "L021"
NORMS = ("BatchNorm1d", "InstanceNorm1d")


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for norm in ctx.view.leaves:
        if norm.type not in NORMS or written(norm, "num_features") or norm.out is None or norm.out.rank != 3:
            continue
        seq = sequence_behind(norm, linear=True)
        if seq is None or seq.out is None:
            continue
        _, steps, features = seq.out.shape
        yield ctx.warning(
            CODE, norm, f"it reads the (B, T, F) output of {seq.who()} as (N, C, L): num_features is inferred as "
            f"the {steps} steps, so each step is normalised on its own and the {features} features are mixed",
            f"normalise the features with - {{type: LayerNorm}}, or put - {{type: Permute, dims: [0, 2, 1]}} "
            f"before '{norm.node.path}' and one after it")
