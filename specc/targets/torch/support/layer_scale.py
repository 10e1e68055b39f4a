"""The LayerScale module (CaiT's per-channel factor), which PyTorch lacks.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn

# -- written into generated modules: everything below this line --


class LayerScale(nn.Module):
    """x · gamma, one learned factor per channel of dim ``dim`` (counted from the end: -1 the
    features of tokens, as timm's LayerScale; -3 the channels of a (B, C, H, W) map), started
    at ``init_values``; with ``bias``, + beta (ResMLP's Affine)."""

    def __init__(
        self,
        num_features: int,
        init_values: float = 1e-5,
        dim: int = -1,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.shape = (num_features,) + (1,) * (-dim - 1)
        self.gamma = nn.Parameter(torch.full((num_features,), float(init_values)))
        self.beta = nn.Parameter(torch.zeros(num_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x * self.gamma.view(self.shape)
        return y + self.beta.view(self.shape) if self.beta is not None else y
