"""PyTorch lowering of the convolutions: nn's Conv/ConvTranspose, a depthwise conv is an
nn.Conv with groups = in_channels, a separable conv the SeparableConv support class."""

from __future__ import annotations

from .base import Lowering, lowering


class _Conv(Lowering):
    positional = ("in_channels", "out_channels", "kernel_size")
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True, "padding_mode": "zeros"}


class _ConvTranspose(Lowering):
    positional = ("in_channels", "out_channels", "kernel_size")
    defaults = {"stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "bias": True, "dilation": 1}


class _SeparableConv(Lowering):
    positional = ("in_channels", "out_channels", "kernel_size")
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "depth_multiplier": 1, "bias": True,
                "padding_mode": "zeros"}
    support = ("separable_conv",)


@lowering
class Conv1d(_Conv):
    torch_class = "nn.Conv1d"


@lowering
class Conv2d(_Conv):
    torch_class = "nn.Conv2d"


@lowering
class Conv3d(_Conv):
    torch_class = "nn.Conv3d"


@lowering
class ConvTranspose1d(_ConvTranspose):
    torch_class = "nn.ConvTranspose1d"


@lowering
class ConvTranspose2d(_ConvTranspose):
    torch_class = "nn.ConvTranspose2d"


@lowering
class ConvTranspose3d(_ConvTranspose):
    torch_class = "nn.ConvTranspose3d"


@lowering
class DepthwiseConv1d(_Conv):
    torch_class = "nn.Conv1d"


@lowering
class DepthwiseConv2d(_Conv):
    torch_class = "nn.Conv2d"


@lowering
class SeparableConv1d(_SeparableConv):
    torch_class = "SeparableConv1d"


@lowering
class SeparableConv2d(_SeparableConv):
    torch_class = "SeparableConv2d"
