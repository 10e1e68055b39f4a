"""L033 features-pooled-not-steps: a 1-d pool over a sequence pools each step's features.

What it does
    A global pool (GlobalMaxPool, GlobalAvgPool, Keras' GlobalMaxPooling1D…) or a 1-d pool
    (MaxPool1d, AvgPool1d, AdaptiveAvgPool1d…) reads a (B, T, F) tensor whose features are
    last: the output of an Embedding, a recurrent layer's sequence, an attention layer or a
    Linear applied per step (through activations and dropout).

Why is this bad
    These pools read (N, C, L), PyTorch's layout, and pool over L, the last dim. On (B, T, F)
    that is the F features of each step: a global max gives (B, T), the largest feature of
    every step, where the model meant the largest value of every feature over the steps,
    (B, F). Keras' GlobalMaxPooling1D reads (B, T, F), so a model ported from Keras checks,
    trains and pools the wrong axis; its head is then tied to one sequence length.

Example
    inputs: {tokens: {shape: [B, 200], dtype: int64}}
    layers:
      - {type: Embedding, num_embeddings: 20000, embedding_dim: 128}
      - {type: LSTM, hidden_size: 64, bidirectional: true}
      - {type: GlobalMaxPooling1D}

Use instead
    Pool over the steps: - {type: Reduce, op: max, dim: 1} (op: mean for an average), or
    put - {type: Permute, dims: [0, 2, 1]} before the pool so it reads (B, F, T).
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from .channels_last_image import sequence_behind

CODE = "L033"
GLOBAL = {"GlobalMaxPool": "max", "GlobalAvgPool": "mean"}
WINDOWED = ("MaxPool1d", "AvgPool1d", "LPPool1d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d")


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for pool in ctx.view.leaves:
        if pool.type not in GLOBAL and pool.type not in WINDOWED:
            continue
        seq = sequence_behind(pool, linear=True)
        if seq is None or seq.out is None:
            continue
        _, steps, features = seq.out.shape
        if pool.type in GLOBAL:
            op = GLOBAL[pool.type]
            yield ctx.warning(
                CODE, pool, f"it reads the (B, T, F) output of {seq.who()} as (N, C, L) and takes the {op} of each "
                f"step's {features} features, giving (B, {steps}): one value per step, not per feature",
                f"take the {op} over the steps instead: replace it with - {{type: Reduce, op: {op}, dim: 1}} (what "
                f"Keras' {'GlobalMaxPooling1D' if op == 'max' else 'GlobalAveragePooling1D'} does on (B, T, F))")
        else:
            yield ctx.warning(
                CODE, pool, f"it reads the (B, T, F) output of {seq.who()} as (N, C, L) and pools along the "
                f"{features} features of each step, not along the {steps} steps",
                f"put - {{type: Permute, dims: [0, 2, 1]}} before '{pool.node.path}' so it pools (B, F, T) over the "
                "steps, and one after it for features last again")
