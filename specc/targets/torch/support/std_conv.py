"""Weight-standardised convolutions, as timm writes them (timm/layers/std_conv.py): StdConv2d (BiT's
ResNetV2) and ScaledStdConv2d (NF-ResNets, NFNet), one class per rank.  The parameters keep
nn.Conv's names, and ScaledStdConv's gain its timm name, so a timm checkpoint loads by name.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
import torch.nn.functional as F
from torch import nn

# -- written into generated modules: everything below this line --


def standardize_weight(
    weight: torch.Tensor, eps: float, gain: torch.Tensor | None = None
) -> torch.Tensor:
    """Each output filter less its mean over its fan-in, divided by its standard deviation (biased,
    plus eps), times gain when given: timm's F.batch_norm over the (1, out, fan_in) weight."""
    w = F.batch_norm(
        weight.reshape(1, weight.shape[0], -1),
        None,
        None,
        weight=None if gain is None else gain.reshape(-1),
        training=True,
        momentum=0.0,
        eps=eps,
    )
    return w.reshape_as(weight)


class _StdConv:
    """Weight Standardization (Qiao et al. 2019): the conv uses its filters standardised."""

    def __init__(self, *args, eps: float = 1e-6, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = standardize_weight(self.weight, self.eps)
        return self._conv_forward(x, weight, self.bias)


class _ScaledStdConv:
    """Scaled Weight Standardization (Brock et al. 2021): the standardised filters times a learned
    gain per output channel and gamma / sqrt(fan_in)."""

    def __init__(
        self,
        *args,
        gamma: float = 1.0,
        eps: float = 1e-6,
        gain_init: float = 1.0,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.scale = gamma * self.weight[0].numel() ** -0.5
        self.eps = eps
        shape = (self.out_channels,) + (1,) * (self.weight.dim() - 1)
        self.gain = nn.Parameter(torch.full(shape, gain_init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = standardize_weight(self.weight, self.eps, self.gain * self.scale)
        return self._conv_forward(x, weight, self.bias)


class StdConv1d(_StdConv, nn.Conv1d):
    pass


class StdConv2d(_StdConv, nn.Conv2d):
    pass


class StdConv3d(_StdConv, nn.Conv3d):
    pass


class ScaledStdConv1d(_ScaledStdConv, nn.Conv1d):
    pass


class ScaledStdConv2d(_ScaledStdConv, nn.Conv2d):
    pass


class ScaledStdConv3d(_ScaledStdConv, nn.Conv3d):
    pass
