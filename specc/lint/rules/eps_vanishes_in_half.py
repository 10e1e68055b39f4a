"""L036 eps-vanishes-in-half: a Normalize or RMSNorm computing in float16 with an eps float16 rounds to 0.

What it does
    Finds a Normalize or RMSNorm whose input is float16 and whose eps is 2⁻²⁵ (3e-8) or less:
    float16 holds nothing smaller than 6e-8, so such an eps rounds to exactly 0. Normalize's
    default eps, 1e-12, is one of them.

Why is this bad
    Both layers add or clamp their eps in the data's own precision (the other norms compute their
    statistics in float32 whatever the data), so the eps meant to keep a division finite is gone:
    a zero vector, such as a padded step or a blank patch, gives 0 / 0 = NaN in PyTorch and in
    the exported ONNX model alike, and the NaN spreads through every later layer. Random test
    inputs never hit it, so the export verifies.

Example
    inputs:
      x: {shape: [B, 64], dtype: float16}
    layers:
      - {type: Normalize}

Use instead
    An eps float16 holds: eps: 0.0001 (its smallest normal number is 6.1e-5), or compute the layer in
    float32 (- {type: Cast, dtype: float32} before it). An RMSNorm without eps takes float16's own
    machine epsilon, which is safe.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import arg

CODE = "L036"
# the layer types that add or clamp eps in the data's precision, with their default eps
IN_DATA_PRECISION = {"Normalize": 1e-12, "RMSNorm": None}


def vanishes_in_half(eps: float) -> bool:
    """Whether float16 rounds ``eps`` (positive) to 0."""
    return struct.unpack("<e", struct.pack("<e", eps))[0] == 0.0


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        if step.type not in IN_DATA_PRECISION or step.out is None or step.out.dtype != "float16":
            continue
        eps = arg(step, "eps", IN_DATA_PRECISION[step.type])
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or eps <= 0 or not vanishes_in_half(eps):
            continue
        yield ctx.warning(
            CODE, step, f"eps {eps:g} is 0 in float16, the precision this layer divides in, so a zero input vector "
            "gives 0 / 0 = NaN (in PyTorch and in the exported model)",
            "set eps: 0.0001 (float16 holds nothing below 6e-8), or add - {type: Cast, dtype: float32} before it",
            field="eps")
