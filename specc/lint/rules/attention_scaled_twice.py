"""L063 attention-scaled-twice: hand-written attention scores scaled by 1/√d twice, 1/d in all.

What it does
    A Softmax over the last dim reads the scores of a MatMul of queries (…, T, d) by transposed
    keys (…, d, S), and the constant factors on the way (Scale, Mul or Div by a value, on the
    queries, on the keys or on the scores) multiply to 1/d, the square of the paper's 1/√d, with
    d the contracted width (d at least 4).

Why is this bad
    Scaled dot-product attention divides q·kᵀ by √d once. Code ported from two sources does it
    twice: the queries are pre-scaled (`q = q * self.scale`, as timm and many repositories do)
    and the scores divided again (`scores / math.sqrt(d)`, as the paper's formula reads), so the
    scores are √d times too small (8 times at d = 64): the softmax is nearly uniform, every
    position attends to everything alike, and the model trains as if it averaged its inputs.
    Nothing fails.

Example
    inputs: {q: [B, 16, 64], k: [B, 16, 64]}
    layers:
      - {type: Scale, scale: 0.125, from: q, name: qs}
      - {type: Transpose, dim0: 1, dim1: 2, from: k, name: kt}
      - {type: MatMul, from: [qs, kt]}
      - {type: Scale, scale: 0.125, name: scores}
      - {type: Softmax, dim: -1}

Use instead
    Scale once: remove one of the two factors (keep the query's pre-scaling or the division of
    the scores, not both).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf, arg

CODE = "L063"
REARRANGE = ("Transpose", "Permute", "Reshape", "Identity")


def _factor(step: Leaf) -> float | None:
    """The constant this layer multiplies by, or None when it is no constant scaling."""
    if step.type == "Scale":
        s = arg(step, "scale")
        return float(s) if isinstance(s, (int, float)) else None
    if step.type in ("Mul", "Div") and len(step.inputs) == 1:
        v = arg(step, "value")
        if isinstance(v, (int, float)) and v != 0:
            return float(v) if step.type == "Mul" else 1.0 / float(v)
    return None


def _scaled(step: Leaf | str | None) -> tuple[float, list[Leaf], Leaf | str | None]:
    """Walk back over constant scalings and rearrangements: (their product, the scaling layers, what is below)."""
    total, scalers = 1.0, []
    while isinstance(step, Leaf):
        f = _factor(step)
        if f is not None:
            total, scalers = total * f, [*scalers, step]
        elif step.type not in REARRANGE:
            break
        step = step.inputs[0] if step.inputs else None
    return total, scalers, step


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for soft in ctx.view.leaves:
        if soft.type != "Softmax" or soft.source is None or soft.out is None or arg(soft, "dim", -1) not in (
                -1, soft.out.rank - 1):
            continue
        after, on_scores, mm = _scaled(soft.source)
        if not isinstance(mm, Leaf) or mm.type != "MatMul" or len(mm.inputs) != 2:
            continue
        q = mm.inputs[0]
        width = q.out.shape[-1] if isinstance(q, Leaf) and q.out is not None else None
        if not isinstance(width, int) or width < 4:
            continue
        on_q, q_scalers, _ = _scaled(q)
        on_k, k_scalers, _ = _scaled(mm.inputs[1])
        scalers = q_scalers + k_scalers + on_scores
        if len(scalers) < 2 or not math.isclose(after * on_q * on_k * width, 1.0, rel_tol=1e-3):
            continue
        last = on_scores[-1] if on_scores else scalers[-1]
        yield ctx.warning(
            CODE, last, f"the attention scores of {mm.who()} are scaled by "
            f"{' and '.join(repr(s.node.path) for s in scalers)}, 1/{width} in all: the paper's 1/√{width} applied "
            f"twice, so the scores are {math.sqrt(width):g} times too small and the softmax is nearly uniform",
            f"remove '{last.node.path}' (scale once, by 1/√{width} = {1 / math.sqrt(width):.4g})")
