"""The LearnedTokens module, which PyTorch lacks (DETR writes nn.Embedding(n, d).weight
expanded over the batch).

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn

# -- written into generated modules: everything below this line --


class LearnedTokens(nn.Module):
    """num_tokens learned vectors, the same for every sample of the batch that ``x`` (any
    tensor of it) has: (B, num_tokens, d_model), or (num_tokens, B, d_model) when not
    batch_first.  DETR's object queries, a Perceiver's latent array."""

    def __init__(self, num_tokens: int, d_model: int, batch_first: bool = True) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.tokens = nn.Parameter(torch.randn(1, num_tokens, d_model) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.batch_first:
            return self.tokens.expand(x.size(0), -1, -1)
        return self.tokens.transpose(0, 1).expand(-1, x.size(1), -1)
