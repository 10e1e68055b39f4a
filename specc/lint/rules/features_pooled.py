"""L033 features-pooled-not-steps: a 1-d pool over a sequence pools each step's features.

What it does
    A global pool (GlobalMaxPool, GlobalAvgPool, Keras' GlobalMaxPooling1D…) or a 1-d pool
    (MaxPool1d, AvgPool1d, AdaptiveAvgPool1d…) reads a (B, T, F) tensor whose features are
    last: the output of an Embedding, a recurrent layer's sequence, an attention layer or a
    Linear applied per step (through activations and dropout). Also a Mean or Reduce over the
    last dim of such a (B, T, F) tensor whose (B, T) result a Linear then reads as its features
    (`torch.mean(out, dim=2)` for `dim=1`).

Why is this bad
    These pools read (N, C, L), PyTorch's layout, and pool over L, the last dim. On (B, T, F)
    that is the F features of each step: a global max gives (B, T), the largest feature of
    every step, where the model meant the largest value of every feature over the steps,
    (B, F). Keras' GlobalMaxPooling1D reads (B, T, F), so a model ported from Keras checks,
    trains and pools the wrong axis; its head is then tied to one sequence length. A Mean over
    dim 2 (or -1) of (B, T, F) does the same: the head's weights then belong to positions, not
    to features.

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
from ..view import Leaf, arg, keeps_layout
from .channels_last_image import sequence_behind

CODE = "L033"
GLOBAL = {"GlobalMaxPool": "max", "GlobalAvgPool": "mean"}
WINDOWED = ("MaxPool1d", "AvgPool1d", "LPPool1d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d")
REDUCE = ("Mean", "Reduce")


def _head_reading(step: Leaf) -> Leaf | None:
    """The Linear that reads ``step``'s values as its features, through activations and dropout."""
    while len(step.consumers) == 1:
        step = step.consumers[0]
        if step.type == "Linear":
            return step
        if not keeps_layout(step):
            return None
    return None


def _over_features(ctx: Context) -> Iterator[Diagnostic]:
    for red in ctx.view.leaves:
        if red.type not in REDUCE or arg(red, "dim") not in (2, -1) or arg(red, "keepdim"):
            continue
        seq = sequence_behind(red, linear=True)
        head = _head_reading(red) if seq is not None and seq.out is not None else None
        if head is None or seq is None or seq.out is None:
            continue
        _, steps, features = seq.out.shape
        if features == 1:
            continue  # one value per step (a score): the reduce only drops its dim
        op = arg(red, "op", "mean")
        yield ctx.warning(
            CODE, red, f"it takes the {op} of each step's {features} features of the (B, T, F) output of {seq.who()}, "
            f"giving (B, {steps}), and {head.who()} reads those {steps} steps as its features: one value per step, "
            "not per feature", f"set dim: 1 to take the {op} over the steps, giving (B, {features})", field="dim")


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    yield from _over_features(ctx)
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
