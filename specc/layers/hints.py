"""The fixes that layer errors suggest, in one place: the engine's rank and dtype errors,
TimeDistributed's per-step ones and the shape rules all take their hints from here."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from ..shapes.dims import Dim, DimLike, mul
from ..shapes.tensor import TensorType
from .base import LayerKind, lookup

# Whether a layer passes its rules on an input of this shape (the other inputs as they are).
Fits = Callable[[tuple[DimLike, ...]], bool]

# Integer data reaching a layer that works on floats, and the reverse.
EMBED_IDS = "token ids go through an Embedding first"
FLOAT_INPUT = EMBED_IDS + "; or declare the input with dtype: float32"
# uint8 and bool data are pixels and masks, not ids: a Cast makes them floats (0-255, 0/1)
CAST_INPUT = "add - {type: Cast, dtype: float32} before this layer, or declare the input with dtype: float32"
INT_INPUT = "declare the input as {shape: [...], dtype: int64}"
# A size no framework can allocate (S011).
CHECK_SIZES = "check the sizes written on this layer"
CHECK_SIZES_ABOVE = CHECK_SIZES + " (or the layers before it)"


def rank_hint(kind: LayerKind, t: TensorType, fits: Fits | None = None, declared: bool = True) -> str:
    """The fix for a wrong rank: the sibling kind made for this rank, the exact Reshape that
    gives the expected layout, or a Flatten before a Linear.  ``fits`` says whether the layer
    passes its own rules on a shape: an edit that would only trade this error for another
    (a batch of one where a kernel needs room, a 1-wide map under a pool) is not offered.
    ``declared``: ``t`` is a spec input as declared, which could be declared otherwise (not a
    layer's output, such as a Linear's (B, K) before an Upsample)."""
    assert kind.ranks is not None
    ok = fits or (lambda _shape: True)
    lo = min(kind.ranks)
    sibling = re.sub(r"[123]d$", f"{t.rank - 2}d", kind.type_name) if t.rank >= 3 else ""
    other = lookup(sibling) if sibling and sibling != kind.type_name else None
    use_other = f"use {other.type_name} for a {other.layout} input" if other and other.ranks and \
        t.rank in other.ranks else ""
    if t.rank < lo:
        dims: list[object] = [d if isinstance(d, int) else str(d) if isinstance(d, Dim) and
                              len(d.terms) == 1 and d.terms[0][1] == 1 and len(d.terms[0][0]) == 1 else -1
                              for d in t.shape]
        batched = not isinstance(t.shape[0], int)
        if t.rank == 2 and lo == 4 and isinstance(t.shape[1], int) and batched:
            flat = image_hint(t.shape[1], dims[0], kind, t.shape[0], ok)
            if flat:
                return flat
        if batched and lo - t.rank == 1 and (kind.layout or "").startswith("(N, C") and t.rank >= 2 and \
                ok((t.shape[0], 1, *t.shape[1:])):
            # (B, H, W) into a 2-d conv: images of one channel whose channel dim was left out
            shape = ", ".join(map(str, [dims[0], 1, *dims[1:]]))
            fix = ("add - {type: Unsqueeze, dim: 1} before it for one channel (grayscale images, a mono "
                   "signal)" + (f", or declare the input with its channel dim: [{shape}]" if declared else ""))
            return f"{fix}; or {use_other}" if use_other else fix
        if dims.count(-1) <= 1:
            pad = [1] * (lo - t.rank)
            # A fixed first dim is most likely a sample without its batch: the 1s go in front.
            # A symbolic one is the batch: they go after it, as trailing positions.
            for front in ((False, True) if batched else (True, False)):
                target = [*pad, *dims] if front else [*dims, *pad]
                if ok((*pad, *t.shape) if front else (*t.shape, *pad)):
                    what = "a batch of one" if front and not batched else kind.layout
                    fix = (f"add - {{type: Reshape, shape: [{', '.join(map(str, target))}]}} before it to get "
                           f"{what}")
                    return f"{use_other}, or {fix}" if use_other else fix
    if use_other:
        return f"{use_other}, or reshape to {kind.layout}"
    return f"reshape to {kind.layout} first (Flatten, Unflatten, Reshape or Permute)"


def image_hint(n: int, batch: object, kind: LayerKind, size: DimLike = 1, fits: Fits | None = None) -> str:
    """Flat features into a 2-d conv/pool/norm: flat pixels want an Unflatten to (C, H, W); a
    pooled (B, C) gate wants (B, C, 1, 1).  Only the edits ``fits`` accepts are offered: ""
    when there is none.  ``size`` is the batch dim itself, for ``fits``."""
    ok = fits or (lambda _shape: True)
    gate = f"a (B, C) gate: Reshape to [{batch}, {n}, 1, 1]" if ok((size, n, 1, 1)) else ""
    for c in (1, 3):
        side = math.isqrt(n // c)
        if n % c == 0 and side * side == n // c and side > 1 and ok((size, c, side, side)):
            return (f"{kind.type_name} needs {kind.layout}; for flat pixels add - {{type: Unflatten, dim: 1, "
                    f"unflattened_size: [{c}, {side}, {side}]}} ({n} = {c}·{side}·{side})"
                    + (f"; for {gate}" if gate else ""))
    return f"{kind.type_name} needs {kind.layout}: Unflatten the {n} features to (C, H, W), or for {gate}" \
        if gate else ""


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
