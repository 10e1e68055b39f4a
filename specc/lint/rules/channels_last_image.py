"""L012 channels-last-input: an image stored channels-last (B, H, W, C) is read as (B, C, H, W).

What it does
    A convolution with in_channels left to inference reads a model input whose last dim is
    small (1, 3 or 4, like the colours of an image) and whose dim 1 is large: the layout of a
    channels-last (B, H, W, C) image, as Keras, TensorFlow and PIL/NumPy arrays store it.

Why is this bad
    PyTorch convolutions read channels from dim 1. specc infers in_channels from the tensor,
    so it takes the image height as the channel count and the colours as a spatial axis of
    size 3: the spec checks, the shapes look plausible, and the network convolves over the
    wrong axes (and fixes the height for good).

Example
    inputs: {image: [B, 48, 48, 3]}
    layers:
      - {type: Conv2d, out_channels: 32, kernel_size: 3}

Use instead
    Declare the input channels-first, image: [B, 3, 48, 48], and convert the data; or keep it
    and add - {type: Permute, dims: [0, 3, 1, 2]} as the first layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...diagnostics import Diagnostic
from .. import context, rule
from ..view import written

if TYPE_CHECKING:
    from ...pipeline import Spec

CODE = "L012"
COLOUR_CHANNELS = (1, 3, 4)  # grey, RGB, RGBA: the last dim of a channels-last image
MIN_SIDE = 16  # sides this large next to a last dim of 1–4 are an image, not a channel count


@rule
def check(spec: Spec) -> Iterator[Diagnostic]:
    ctx = context(spec)
    if ctx is None or spec.graph is None:
        return
    for conv in ctx.view.steps:
        if conv.family != "conv" or written(conv, "in_channels") or len(conv.inputs) != 1:
            continue
        name = conv.inputs[0]
        x = spec.graph.inputs.get(name) if isinstance(name, str) else None
        if x is None or x.rank < 3:
            continue
        shape = x.shape
        spatial = shape[1:-1]  # the spatial sides, if the layout is channels-last
        if shape[-1] not in COLOUR_CHANNELS or not all(isinstance(d, int) and d >= MIN_SIDE for d in spatial):
            continue
        rank = x.rank
        dims = [0, rank - 1, *range(1, rank - 1)]
        first = [shape[0], shape[-1], *spatial]
        yield ctx.warning(
            CODE, conv, f"input '{name}' {_fmt(shape)} looks channels-last (its last dim is {shape[-1]}), but "
            f"convolutions read channels from dim 1, so in_channels is inferred as {shape[1]}",
            f"declare '{name}' channels-first as {_fmt(first)}, or add - {{type: Permute, dims: {dims}}} "
            f"before '{conv.node.path}'")


def _fmt(shape: object) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"  # type: ignore[attr-defined]
