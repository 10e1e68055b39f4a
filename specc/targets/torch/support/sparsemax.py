"""The Sparsemax module (Martins & Astudillo 2016), which PyTorch lacks.

Written as pytorch-tabnet's sparsemax (the row shifted by its max, sorted, the threshold from the
running sums) with differentiable ops, so autograd gives its exact Jacobian and torch.onnx can
trace it; a custom autograd.Function would save less but export through neither exporter.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn

# -- written into generated modules: everything below this line --


class Sparsemax(nn.Module):
    """max(x - tau, 0) along ``dim``: the projection of x onto the probability simplex."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.dim
        z = x - x.amax(d, keepdim=True)  # tau moves with the row: shifting it changes nothing but rounding
        ranked = torch.sort(z, dim=d, descending=True).values
        sums = ranked.cumsum(d) - 1
        k = torch.arange(1, x.shape[d] + 1, device=x.device, dtype=x.dtype)
        k = k.view([-1] + [1] * (-d - 1) if d < 0 else [-1] + [1] * (x.dim() - d - 1))
        support = (k * ranked > sums).sum(d, keepdim=True)  # k(z): how many entries stay above 0
        tau = sums.gather(d, support - 1) / support.to(x.dtype)
        return torch.clamp(z - tau, min=0)
