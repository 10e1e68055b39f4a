"""The ClassToken module (ViT's class token), which PyTorch lacks.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn

# -- written into generated modules: everything below this line --


class ClassToken(nn.Module):
    """Prepends learned tokens to a (B, T, d_model) sequence ((T, B, d_model) when not
    batch_first): ViT's class token, or DeiT's class and distillation tokens.  One
    (1, num_tokens, d_model) parameter, expanded over the batch, so ONNX keeps B and T
    dynamic."""

    def __init__(
        self, d_model: int, num_tokens: int = 1, batch_first: bool = True
    ) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.token = nn.Parameter(torch.zeros(1, num_tokens, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.batch_first:
            return torch.cat([self.token.expand(x.size(0), -1, -1), x], dim=1)
        token = self.token.transpose(0, 1).expand(-1, x.size(1), -1)
        return torch.cat([token, x], dim=0)
