"""MADE's masked linear layer (Germain et al. 2015), as nflows' MaskedLinear writes it without random_mask:
an nn.Linear whose weight is multiplied by a fixed mask buffer in every forward.  The degrees: the inputs
1..features in their order, hidden unit k k % (features - 1) + 1, output unit j j // (out / features) + 1;
a hidden unit reads the units of degree at most its own, an output those of degree strictly below its own.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn
from torch.nn import functional as F

# -- written into generated modules: everything below this line --


class MaskedLinear(nn.Linear):
    """role "input" reads the features inputs, "hidden" hidden units, "output" writes out_features /
    features outputs for each input, side by side."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        features: int = 2,
        role: str = "hidden",
    ) -> None:
        super().__init__(in_features, out_features, bias=bias)

        def degrees(n: int, kind: str) -> torch.Tensor:
            if kind == "input":
                return torch.arange(1, n + 1)
            if kind == "hidden":
                return torch.arange(n) % (features - 1) + 1
            return torch.arange(n) // (n // features) + 1

        ins = degrees(in_features, "input" if role == "input" else "hidden")
        outs = degrees(out_features, "output" if role == "output" else "hidden")
        if role == "output":
            mask = outs[:, None] > ins[None, :]
        else:
            mask = outs[:, None] >= ins[None, :]
        self.register_buffer("mask", mask.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)
