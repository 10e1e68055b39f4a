"""PixelCNN's masked convolution (van den Oord et al. 2016, "Pixel Recurrent Neural Networks"), as
its PyTorch reimplementations write it: an nn.Conv whose weight is multiplied by a fixed mask
buffer in every forward, one class per rank.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn

# -- written into generated modules: everything below this line --


class _MaskedConv:
    """Mask A zeroes the kernel's centre tap and every tap after it in raster order (the first
    layer: a pixel never sees itself); mask B keeps the centre (every later layer)."""

    def __init__(self, *args, mask_type: str = "B", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        kernel = self.weight.shape[2:]
        centre = 0
        for k in kernel:
            centre = centre * k + k // 2
        mask = torch.ones(kernel.numel())
        mask[centre + (mask_type == "B") :] = 0
        self.register_buffer(
            "mask", mask.reshape(1, 1, *kernel).expand_as(self.weight).clone()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


class MaskedConv1d(_MaskedConv, nn.Conv1d):
    pass


class MaskedConv2d(_MaskedConv, nn.Conv2d):
    pass


class MaskedConv3d(_MaskedConv, nn.Conv3d):
    pass
