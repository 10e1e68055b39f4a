"""L066 patches-leave-pixels: a patch embedding whose patches do not tile the image.

What it does
    A convolution whose kernel equals its stride (a patch embedding: ViT's, Swin's, a
    ConvNeXt stem or downsampling layer), without padding, reads a fixed size that is not a
    multiple of its patch: 224 cut into patches of 15 is 14 patches covering 210.

Why is this bad
    The rows and columns past the last whole patch are never read: PyTorch floors the output
    size and drops them without a word (the 14 pixels at the bottom and right of every image
    above). timm's PatchEmbed refuses such a size for that reason. The model checks and trains;
    it just never sees part of every input, and a sharper object at the edge is invisible.

Example
    inputs: {image: [B, 3, 224, 224]}
    layers:
      - {type: Conv2d, out_channels: 64, kernel_size: 15, stride: 15}

Use instead
    A patch size that divides the input (14, 16 or 32 for 224), an input size that is a
    multiple of the patch (resize to 225), or padding that completes the last patch.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import arg

CODE = "L066"


def _per_dim(value: object, n: int) -> tuple[int, ...] | None:
    if isinstance(value, int):
        return (value,) * n
    if isinstance(value, (list, tuple)) and len(value) == n and all(isinstance(v, int) for v in value):
        return tuple(value)
    return None


def _divisors_near(size: int, patch: int) -> list[int]:
    """The patch sizes nearest ``patch`` that divide ``size`` (one below, one above)."""
    below = next((p for p in range(patch - 1, 1, -1) if size % p == 0), None)
    above = next((p for p in range(patch + 1, size + 1) if size % p == 0), None)
    return [p for p in (below, above) if p is not None]


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for conv in ctx.view.leaves:
        if conv.family != "conv" or not conv.type.startswith("Conv") or conv.type.startswith("ConvTranspose"):
            continue
        x, n = ctx.reads(conv), conv.spatial_dims
        if x is None or not n or x.rank < n + 1:
            continue
        kernel, stride = _per_dim(arg(conv, "kernel_size"), n), _per_dim(arg(conv, "stride"), n)
        padding, dilation = _per_dim(arg(conv, "padding"), n), _per_dim(arg(conv, "dilation", 1), n)
        if kernel is None or kernel != stride or padding != (0,) * n or dilation != (1,) * n or max(kernel) < 2:
            continue
        first = x.rank - n
        left = [(first + i, s, k) for i, (s, k) in enumerate(zip(x.shape[first:], kernel))
                if isinstance(s, int) and s % k and k > 1]
        if not left:
            continue
        d, size, patch = left[0]
        whole = size // patch
        near = _divisors_near(size, patch)
        yield ctx.warning(
            CODE, conv, f"its patches of {patch} (kernel_size = stride = {patch}, no padding) cut the {size} of dim "
            f"{d} of {x} into {whole} covering {whole * patch}: the last {size - whole * patch} along it are never "
            "read, in any input", (f"use kernel_size and stride {' or '.join(map(str, near))} (dividing {size}), or "
                             if near else "") + f"make the input a multiple of {patch} ({(whole + 1) * patch})",
            field="kernel_size")
