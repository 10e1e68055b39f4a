"""Keras' SeparableConv1D/2D: one class per rank; the generated module writes them once per file.
Its parameters are named as Keras names its weights (depthwise, pointwise), so checkpoints map by name.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn

# -- written into generated modules: everything below this line --


class _SeparableConv(nn.Module):
    """A depthwise conv (depth_multiplier filters per input channel, no bias) followed
    by a 1x1 pointwise conv that mixes the channels: Keras' SeparableConv."""

    conv: type = nn.Conv2d

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        depth_multiplier: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        mid = in_channels * depth_multiplier
        self.depthwise = self.conv(
            in_channels,
            mid,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=in_channels,
            bias=False,
            padding_mode=padding_mode,
        )
        self.pointwise = self.conv(mid, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class SeparableConv1d(_SeparableConv):
    conv = nn.Conv1d


class SeparableConv2d(_SeparableConv):
    conv = nn.Conv2d
