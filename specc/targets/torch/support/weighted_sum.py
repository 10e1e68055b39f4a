"""The WeightedSum module (one learned weight per input, EfficientDet's BiFPN fusion), which PyTorch
lacks.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn

# -- written into generated modules: everything below this line --


class WeightedSum(nn.Module):
    """Σ w_i · x_i over the inputs; ``normalize`` fast: w = relu(v) / (Σ relu(v) + eps) (BiFPN's fast
    normalised fusion), softmax: w = softmax(v), none: w = v."""

    def __init__(self, n: int, normalize: str = "fast", eps: float = 1e-4, init: float = 1.0) -> None:
        super().__init__()
        self.normalize, self.eps = normalize, eps
        self.weight = nn.Parameter(torch.full((n,), float(init)))

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        w = self.weight
        if self.normalize == "fast":
            w = torch.relu(w)
            w = w / (torch.sum(w, dim=0) + self.eps)
        elif self.normalize == "softmax":
            w = torch.softmax(w, dim=0)
        out = w[0] * xs[0]
        for i in range(1, len(xs)):
            out = out + w[i] * xs[i]
        return out
