"""L042 upsample-size-as-factor: an Upsample given size: 2, Keras' factor, shrinks the map to 2x2.

What it does
    An Upsample (Interpolate) whose ``size`` is one small number (2, 3 or 4, or a list of
    them) below the input's spatial sizes, so the layer makes every map that small.

Why is this bad
    Keras' UpSampling2D(size=2) and UpSampling1D(size=2) give the factor to scale by; PyTorch's
    (and specc's) ``size`` is the output size itself, and the factor is ``scale_factor``. Ported
    as ``size: 2``, a decoder's "upsample" turns a 16x16 map into 2x2, and the layers after it
    accept it: an autoencoder or a generator then trains to a blur of 4 pixels.

Example
    inputs: {x: [B, 16, 16, 16]}
    layers:
      - {type: Upsample, size: 2}

Use instead
    scale_factor: 2. Write size: for the output size itself (size: 32 for a 32x32 map).
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import arg

CODE = "L042"
FACTORS = (2, 3, 4)  # Keras' sizes for UpSampling: a factor; an output this small is no upsampling


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        if step.type != "Upsample" or len(step.inputs) != 1:
            continue
        size = arg(step, "size")
        sizes = list(size) if isinstance(size, (list, tuple)) else [size]
        if not sizes or not all(isinstance(s, int) and s in FACTORS for s in sizes):
            continue
        src = step.inputs[0]
        x = src.out if not isinstance(src, str) else ctx.graph.inputs.get(src)
        if x is None or x.rank < 3:
            continue
        spatial = x.shape[2:]
        if len(sizes) == 1:
            sizes = sizes * len(spatial)
        if not all(not isinstance(d, int) or d > s for d, s in zip(spatial, sizes)):
            continue
        factor = sizes[0] if len(set(sizes)) == 1 else sizes
        yield ctx.warning(
            CODE, step, f"size: {size} is the output size, so it resizes {x} to {step.out}: Keras' UpSampling "
            f"size={size} is a factor, which here is scale_factor", f"use scale_factor: {factor} to scale by "
            f"{factor}; keep size: only for the output size itself", field="size")
