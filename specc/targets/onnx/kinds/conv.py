"""ONNX lowering of the convolutions: Conv and ConvTranspose, whose attributes are PyTorch's
(ONNX's ConvTranspose adds output_padding at the end, as PyTorch does).  A padding_mode other
than zeros is a Pad before a Conv without padding, which is how PyTorch computes it; a depthwise
conv is a Conv with group = in_channels, a separable conv that depthwise conv (no bias) and a
1x1 pointwise Conv, with the PyTorch target's state-dict names (``depthwise``, ``pointwise``).

Weights are drawn as nn.Conv's reset_parameters draws them: weight and bias uniform in
±1/sqrt(fan_in), where fan_in is a weight's dim 1 times the kernel's size (in_channels/groups
for a conv, out_channels/groups for a transposed conv).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ....shapes.formulas import same_padding
from ..builder import attr_ints
from ..weights import fan_in
from .base import Layer, lowers
from .pad import pad
from .reparam import weight


def _sides(args: dict[str, Any], n: int) -> list[tuple[int, int]]:
    """(before, after) padding per spatial dim; padding: same puts an even kernel's odd pixel on
    the right, as PyTorch does."""
    padding = args["padding"]
    if padding == "same":
        return [same_padding(k, d) for k, d in zip(attr_ints(args["kernel_size"], n), attr_ints(args["dilation"], n))]
    if padding == "valid":
        return [(0, 0)] * n
    return [(p, p) for p in attr_ints(padding, n)]


def conv(layer: Layer, x: str, *, in_channels: int, out_channels: int, kernel: Sequence[int], stride: Sequence[int],
         sides: Sequence[tuple[int, int]], dilation: Sequence[int], groups: int, bias: bool, padding_mode: str,
         module: str = "") -> str:
    """One nn.Conv of the layer's rank; ``module`` is its sub-module in the state dict ("" for the
    layer's own weight, ``depthwise.`` or ``pointwise.`` for a separable conv's)."""
    if padding_mode != "zeros" and any(b or a for b, a in sides):
        x = pad(layer, x, layer.in_type.rank, sides, padding_mode)
        sides = [(0, 0)] * len(sides)
    n_in = in_channels // groups * math.prod(kernel)
    shape = (out_channels, in_channels // groups, *kernel)
    w = layer.param(f"{module}weight", shape, fan_in(n_in)) if module else weight(layer, shape, fan_in(n_in))
    inputs = [x, w, layer.param(f"{module}bias", (out_channels,), fan_in(n_in))] if bias else [x, w]
    return layer.op("Conv", inputs, kernel_shape=list(kernel), strides=list(stride), dilations=list(dilation),
                    group=groups, pads=[before for before, _ in sides] + [after for _, after in sides])


@lowers("Conv1d", "Conv2d", "Conv3d", "DepthwiseConv1d", "DepthwiseConv2d")
def plain(layer: Layer) -> str:
    # a depthwise conv's args are its plain conv's: groups = in_channels, out_channels = in·multiplier
    a, n = layer.args, layer.in_type.rank - 2
    return conv(layer, layer.x, in_channels=a["in_channels"], out_channels=a["out_channels"],
                kernel=attr_ints(a["kernel_size"], n), stride=attr_ints(a["stride"], n), sides=_sides(a, n),
                dilation=attr_ints(a["dilation"], n), groups=a["groups"], bias=a["bias"],
                padding_mode=a["padding_mode"])


@lowers("SeparableConv1d", "SeparableConv2d")
def separable(layer: Layer) -> str:
    a, n = layer.args, layer.in_type.rank - 2
    c = a["in_channels"]
    mid = c * a["depth_multiplier"]
    depthwise = conv(layer, layer.x, in_channels=c, out_channels=mid, kernel=attr_ints(a["kernel_size"], n),
                     stride=attr_ints(a["stride"], n), sides=_sides(a, n), dilation=attr_ints(a["dilation"], n),
                     groups=c, bias=False, padding_mode=a["padding_mode"], module="depthwise.")
    return conv(layer, depthwise, in_channels=mid, out_channels=a["out_channels"], kernel=[1] * n, stride=[1] * n,
                sides=[(0, 0)] * n, dilation=[1] * n, groups=1, bias=a["bias"], padding_mode="zeros",
                module="pointwise.")


@lowers("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def transposed(layer: Layer) -> str:
    a, n = layer.args, layer.in_type.rank - 2
    c, out, groups = a["in_channels"], a["out_channels"], a["groups"]
    kernel, stride, pads = attr_ints(a["kernel_size"], n), attr_ints(a["stride"], n), attr_ints(a["padding"], n)
    extra = attr_ints(a["output_padding"], n)
    n_in = out // groups * math.prod(kernel)  # torch's fan_in of a (in, out/groups, *k) weight
    w = weight(layer, (c, out // groups, *kernel), fan_in(n_in))
    bias = layer.param("bias", (out,), fan_in(n_in)) if a["bias"] else None
    attrs = {"kernel_shape": kernel, "strides": stride, "dilations": attr_ints(a["dilation"], n), "group": groups}
    if all(e < s for e, s in zip(extra, stride)):
        return layer.op("ConvTranspose", [layer.x, w, bias] if bias else [layer.x, w], pads=pads * 2,
                        output_padding=extra, **attrs)
    # ONNX Runtime refuses output_padding >= stride, which PyTorch allows below the dilation. The
    # extra elements at the end are the right padding's, cropped no more, then bias alone.
    crop = [max(p - e, 0) for p, e in zip(pads, extra)]
    y = layer.op("ConvTranspose", [layer.x, w], pads=pads + crop, **attrs)
    beyond = [max(e - p, 0) for p, e in zip(pads, extra)]
    if any(beyond):
        y = pad(layer, y, n + 2, [(0, b) for b in beyond], "zeros")
    if bias is None:
        return y
    return layer.op("Add", [y, layer.op("Reshape", [bias, layer.const([out] + [1] * n)])])
