"""The fixes that layer errors suggest, in one place: the engine's rank and dtype errors,
TimeDistributed's per-step ones and the shape rules all take their hints from here."""

from __future__ import annotations

import math
import re

from ..shapes.dims import Dim, mul
from ..shapes.tensor import TensorType
from .base import LayerKind, lookup

# Integer data reaching a layer that works on floats, and the reverse.
EMBED_IDS = "token ids go through an Embedding first"
FLOAT_INPUT = EMBED_IDS + "; or declare the input with dtype: float32"
INT_INPUT = "declare the input as {shape: [...], dtype: int64}"
# A size no framework can allocate (S011).
CHECK_SIZES = "check the sizes written on this layer"
CHECK_SIZES_ABOVE = CHECK_SIZES + " (or the layers before it)"


def rank_hint(kind: LayerKind, t: TensorType) -> str:
    """The fix for a wrong rank: the sibling kind made for this rank, the exact Reshape that
    gives the expected layout, or a Flatten before a Linear."""
    assert kind.ranks is not None
    lo = min(kind.ranks)
    sibling = re.sub(r"[123]d$", f"{t.rank - 2}d", kind.type_name) if t.rank >= 3 else ""
    other = lookup(sibling) if sibling and sibling != kind.type_name else None
    use_other = f"use {other.type_name} for a {other.layout} input" if other and other.ranks and \
        t.rank in other.ranks else ""
    if t.rank < lo:
        dims: list[object] = [d if isinstance(d, int) else str(d) if isinstance(d, Dim) and
                              len(d.terms) == 1 and d.terms[0][1] == 1 and len(d.terms[0][0]) == 1 else -1
                              for d in t.shape]
        if t.rank == 2 and lo == 4 and isinstance(t.shape[1], int):
            return image_hint(t.shape[1], dims[0], kind)
        if dims.count(-1) <= 1:
            target = ", ".join(map(str, [*dims, *[1] * (lo - t.rank)]))
            fix = f"add - {{type: Reshape, shape: [{target}]}} before it to get {kind.layout}"
            return f"{use_other}, or {fix}" if use_other else fix
    if use_other:
        return f"{use_other}, or reshape to {kind.layout}"
    return f"reshape to {kind.layout} first (Flatten, Unflatten, Reshape or Permute)"


def image_hint(n: int, batch: object, kind: LayerKind) -> str:
    """Flat features into a 2-d conv/pool/norm: flat pixels want an Unflatten to (C, H, W); a
    pooled (B, C) gate wants (B, C, 1, 1)."""
    gate = f"a (B, C) gate: Reshape to [{batch}, {n}, 1, 1]"
    for c in (1, 3):
        side = math.isqrt(n // c)
        if n % c == 0 and side * side == n // c and side > 1:
            return (f"{kind.type_name} needs {kind.layout}; for flat pixels add - {{type: Unflatten, dim: 1, "
                    f"unflattened_size: [{c}, {side}, {side}]}} ({n} = {c}·{side}·{side}); for {gate}")
    return f"{kind.type_name} needs {kind.layout}: Unflatten the {n} features to (C, H, W), or for {gate}"


def divisor_hint(size: int, heads: int, what: str) -> str:
    """The head counts that divide ``size``, and the nearest sizes that ``heads`` divides."""
    divisors = [h for h in range(1, min(size, 64) + 1) if size % h == 0]
    lower = size // heads * heads
    sizes = [s for s in (lower, lower + heads) if s > 0]
    return (f"use a head count that divides {size} ({', '.join(map(str, divisors))}), or make {what} a "
            f"multiple of {heads} ({' or '.join(map(str, sizes))})")


def sequence_hint(t: TensorType) -> str:
    """How to make ``t`` a (B, T, E) sequence: a conv map's positions become the steps (ViT patches)."""
    if t.rank == 4:
        return (f"make the (B, C, H, W) map a sequence of H·W steps: - {{type: Flatten, start_dim: 2}} then "
                f"- {{type: Transpose, dim0: 1, dim1: 2}} gives (B, {mul(t.shape[2], t.shape[3])}, {t.shape[1]})")
    if t.rank == 2:
        return ("a (B, features) vector has no steps: keep a sequence dim (Flatten start_dim: 2 and Transpose "
                "dim0: 1, dim1: 2 on a conv map), or Unsqueeze dim: 1 for a sequence of one step")
    return "reshape it to a rank-3 sequence first"
