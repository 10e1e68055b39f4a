"""L033 features-pooled-not-steps: a 1-d pool over a sequence pools each step's features.

What it does
    A global pool (GlobalMaxPool, GlobalAvgPool, Keras' GlobalMaxPooling1D…) or a 1-d pool
    (MaxPool1d, AvgPool1d, AdaptiveAvgPool1d…) reads a (B, T, F) tensor whose features are
    last: the output of an Embedding, a recurrent layer's sequence, an attention layer or a
    Linear applied per step (through activations and dropout). Also a Mean or Reduce over the
    last dim of such a (B, T, F) tensor whose (B, T) result a Linear then reads as its features
    (`torch.mean(out, dim=2)` for `dim=1`).

    A 1-d pool or an Upsample reading a model input (B, T, F) whose layout the spec itself says:
    a recurrent layer (batch_first) or an attention reads the same input as (B, T, F); or its
    steps are a symbol and its features a fixed number (a signal (B, C, L) has a fixed count of
    channels); or it holds many steps of few features (at most 12, and at least 32 steps and four
    per feature, L012's window of a Keras Conv1D). An Upsample over such a tensor stretches each
    step's features, not the steps, as it does over the (B, T, F) output of a sequence layer. A
    (B, C, L) signal of fixed channels stays quiet.

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
from ..view import RECURRENT, Leaf, arg, keeps_layout
from .channels_last_image import FEW_FEATURES, MIN_STEPS, STEPS_PER_FEATURE, sequence_behind

CODE = "L033"
GLOBAL = {"GlobalMaxPool": "max", "GlobalAvgPool": "mean"}
WINDOWED = ("MaxPool1d", "AvgPool1d", "LPPool1d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d")
REDUCE = ("Mean", "Reduce")
# layers that read a (B, T, F) input as steps of features, wherever else that input goes
STEP_READERS = ("MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
                "TransformerDecoder", "MultiheadLatentAttention")


def _steps_input(ctx: Context, step: Leaf) -> tuple[str, str] | None:
    """(the model input's name, why its layout is (B, T, F)) when ``step`` reads a model input that the
    spec itself lays out as steps of features."""
    name = step.inputs[0] if step.inputs and isinstance(step.inputs[0], str) else None
    x = ctx.graph.inputs.get(name) if name is not None else None
    if name is None or x is None or x.rank != 3 or not x.is_float:
        return None
    for other in ctx.view.leaves:
        if other is step or not other.inputs or other.inputs[0] != name:
            continue
        if other.type in (*STEP_READERS, *RECURRENT) and arg(other, "batch_first", True):
            return name, f"{other.who()} reads it as (B, T, F)"
    steps, features = x.shape[1], x.shape[2]
    if not isinstance(features, int):
        return None
    if not isinstance(steps, int):
        return name, f"its {steps} steps vary and its {features} features do not"
    if features <= FEW_FEATURES and steps >= max(MIN_STEPS, STEPS_PER_FEATURE * features):
        return name, f"it holds {steps} steps of {features} features"
    return None


def _over_input(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        if step.type not in WINDOWED and step.type not in GLOBAL and step.type != "Upsample":
            continue
        found = _steps_input(ctx, step)
        if found is None:
            continue
        name, why = found
        x = ctx.graph.inputs[name]
        _, steps, features = x.shape
        what = ("stretches each step's" if step.type == "Upsample" else
                f"takes the {GLOBAL[step.type]} of each step's" if step.type in GLOBAL else "pools along each step's")
        yield ctx.warning(
            CODE, step, f"input '{name}' [{', '.join(map(str, x.shape))}] is a sequence, steps then features ({why}), "
            f"and it reads (N, C, L), so it {what} {features} features, not the {steps} steps",
            f"put - {{type: Permute, dims: [0, 2, 1]}} before '{step.node.path}' so it reads (B, F, T), and one "
            "after it for features last again")


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
    yield from _over_input(ctx)
    for pool in ctx.view.leaves:
        if pool.type not in GLOBAL and pool.type not in WINDOWED and pool.type != "Upsample":
            continue
        # a Linear over a signal's last dim (B, C, L) -> (B, C, L') is no sequence to an Upsample after it
        seq = sequence_behind(pool, linear=pool.type != "Upsample")
        if seq is None or seq.out is None or seq.out.rank != 3:
            continue
        _, steps, features = seq.out.shape
        if pool.type == "Upsample":
            yield ctx.warning(
                CODE, pool, f"it reads the (B, T, F) output of {seq.who()} as (N, C, L) and stretches the "
                f"{features} features of each step, not the {steps} steps",
                f"put - {{type: Permute, dims: [0, 2, 1]}} before '{pool.node.path}' so it resizes (B, F, T) along "
                "the steps, and one after it for features last again")
        elif pool.type in GLOBAL:
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
