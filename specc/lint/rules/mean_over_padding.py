"""L059 mean-over-padding: a mean over the steps of a padded sequence counts the padding.

What it does
    Finds a mean over the time dim (``Reduce`` with ``op: mean``, ``Mean``, ``GlobalAvgPool``)
    of features computed from ids an Embedding pads (``padding_idx``), where nothing between the
    two multiplies by a mask: the mean takes the padding steps' features as if they were words.

Why is this bad
    A short sentence padded to the batch's longest is averaged over mostly padding: its
    embedding shrinks toward the padding's features, by how much depends on what else is in
    the batch, and the same sentence gets another vector in another batch. Sentence-BERT's mean
    pooling and Keras' ``GlobalAveragePooling1D`` under ``mask_zero=True`` average the real
    steps only. (Max pooling is fooled less, by padding features above the real ones.)

Example
    inputs:
      tokens: {shape: [B, T], dtype: int64}
    layers:
      - {type: Embedding, num_embeddings: 20000, embedding_dim: 64, padding_idx: 0}
      - {type: Reduce, op: mean, dim: 1}

Use instead
    - {type: Embedding, from: tokens, num_embeddings: 20000, embedding_dim: 64, padding_idx: 0, name: h}
    - {type: Compare, from: tokens, op: ne, value: 0}
    - {type: Cast, dtype: float32}
    - {type: Unsqueeze, dim: -1, name: keep}          # (B, T, 1): 1 at real steps
    - {type: Mul, from: [h, keep]}
    - {type: Reduce, op: sum, dim: 1, name: total}
    - {type: Reduce, from: keep, op: sum, dim: 1, name: count}
    - {type: Div, from: [total, count]}               # the mean of the real steps
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf

CODE = "L059"
MEANS = ("Reduce", "Mean", "GlobalAvgPool", "AdaptiveAvgPool1d")
# what applies a mask by multiplying or choosing: a mean after it may be over the real steps alone
MASKING = ("Mul", "Div", "MaskedFill", "Pick", "Select", "Slice")


def _pooled_dims(step: Leaf) -> list[int]:
    """The dims the mean takes, of its input; none when it is no mean."""
    x = step.inputs[0] if step.inputs else None
    args = step.node.result.args if step.node.result is not None else {}
    rank = x.out.rank if isinstance(x, Leaf) and x.out is not None else 0
    if not rank:
        return []
    if step.type in ("Reduce", "Mean"):
        if args.get("op", "mean") != "mean":
            return []
        dims = args["dim"] if isinstance(args["dim"], tuple) else (args["dim"],)
        return [d % rank for d in dims]
    if step.type == "AdaptiveAvgPool1d" and args.get("output_size") not in (1, (1,), [1]):
        return []
    return list(range(2, rank))  # the global pools: every dim after (N, C)


def _padded_embedding(step: Leaf, size: object) -> Leaf | None:
    """An Embedding with padding_idx, upstream of ``step`` with no masking layer between, whose
    steps have length ``size``."""
    seen: set[int] = set()
    todo: list[Leaf | str] = [step]
    while todo:
        s = todo.pop()
        if not isinstance(s, Leaf) or id(s) in seen or s.node.result is None:
            continue
        seen.add(id(s))
        if s.type in MASKING:
            continue
        if s.type == "Embedding":
            if s.node.result.args.get("padding_idx") is not None and s.out is not None and s.out.rank >= 3 \
                    and s.out.shape[-2] == size:
                return s
            continue
        todo.extend(s.inputs)
    return None


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        if step.type not in MEANS or not step.inputs or not isinstance(step.inputs[0], Leaf):
            continue
        x = step.inputs[0]
        for d in _pooled_dims(step):
            size = x.out.shape[d] if x.out is not None else None
            if isinstance(size, int):  # a fixed length: nothing says it is padded
                continue
            emb = _padded_embedding(x, size)
            if emb is None:
                continue
            pad = emb.node.result.args["padding_idx"]
            tokens = emb.inputs[0] if isinstance(emb.inputs[0], str) else emb.inputs[0].node.path
            yield ctx.warning(
                CODE, step, f"it averages dim {d} ({size} steps) of features from {emb.who()}, whose ids are padded "
                f"(padding_idx {pad}): the padding steps count as words, so a short sequence's mean is mostly padding",
                f"average the real steps only: multiply by the mask of the ids (- {{type: Compare, from: {tokens}, op: "
                f"ne, value: {pad}}}, a Cast to float32 and an Unsqueeze to a last dim of 1), sum over dim {d}, and "
                "divide by the mask's sum (Sentence-BERT's mean pooling)")
            break
