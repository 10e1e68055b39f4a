"""L061 attention-scale-inverted: an attention `scale` above 1, where PyTorch's divides by √head_dim.

What it does
    A MultiheadAttention writes `scale:` above 1.

Why is this bad
    `scale` is what multiplies the scores q·kᵀ before the softmax, as in PyTorch's
    `scaled_dot_product_attention(..., scale=)`: its default is 1/√head_dim, the paper's
    "divided by √d_k". Papers and Keras code write the divisor (√d_k, or `key_dim ** 0.5`), and
    porting it as `scale` multiplies where it should divide: the scores come out head_dim times
    too large (16 times at head_dim 16), the softmax saturates onto one key, its gradient
    vanishes, and training stalls or jumps. No published attention multiplies the scores by more
    than 1 (T5 uses 1.0, folding the scale into its initialisation).

Example
    inputs: {tokens: [B, T, 64]}
    layers:
      - {type: MultiheadAttention, num_heads: 4, scale: 4.0}

Use instead
    Leave `scale` out (PyTorch's 1/√head_dim), or write the reciprocal of the divisor: scale: 0.25
    for √16.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import arg

CODE = "L061"


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        scale = arg(step, "scale")
        if step.type != "MultiheadAttention" or not isinstance(scale, (int, float)) or scale <= 1:
            continue
        e, heads = arg(step, "embed_dim"), arg(step, "num_heads")
        head_dim = arg(step, "head_dim") or (e // heads if isinstance(e, int) and isinstance(heads, int) else None)
        default = f"1/√{head_dim} = {1 / math.sqrt(head_dim):.4g}" if isinstance(head_dim, int) else "1/√head_dim"
        what = (f", √head_dim itself: the divisor written where its reciprocal belongs, so the scores are "
                f"{head_dim} times too large" if isinstance(head_dim, int) and math.isclose(scale, math.sqrt(head_dim))
                else "")
        fix = f"scale: {1 / scale:.4g}" if isinstance(head_dim, int) and what else "no scale"
        yield ctx.warning(
            CODE, step, f"scale: {scale:g} multiplies the scores q·kᵀ by {scale:g} before the softmax, where "
            f"PyTorch's default multiplies them by {default}{what}; the softmax saturates onto one key and its "
            "gradient vanishes",
            f"use {fix} (the reciprocal of the divisor), or leave scale out for PyTorch's {default}"
            if what else f"leave scale out for PyTorch's {default}, or write a factor below 1", field="scale")
