"""PyTorch lowering of Embedding."""

from __future__ import annotations

from .base import Lowering, lowering


@lowering
class Embedding(Lowering):
    torch_class = "nn.Embedding"
    positional = ("num_embeddings", "embedding_dim")
    defaults = {"padding_idx": None, "max_norm": None, "norm_type": 2.0, "scale_grad_by_freq": False,
                "sparse": False}
