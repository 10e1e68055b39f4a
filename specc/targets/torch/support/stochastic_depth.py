"""torchvision.ops.StochasticDepth, written out because torchvision is not a dependency of the
generated code.  At eval it returns its input untouched, so it exports to ONNX as nothing.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn

# -- written into generated modules: everything below this line --


class StochasticDepth(nn.Module):
    """Stochastic depth (Huang et al., 2016; timm's DropPath), as in torchvision.ops:
    while training, zero the whole residual branch of each sample (mode="row") or of
    the whole batch (mode="batch") with probability p and scale what is kept by
    1 / (1 - p).  The identity at eval."""

    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        if self.mode == "row":
            size = [x.shape[0]] + [1] * (x.ndim - 1)
        else:
            size = [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"
