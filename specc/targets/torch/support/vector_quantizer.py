"""VQ-VAE's vector quantiser with an exponential-moving-average codebook, as VQ-VAE-2's reference
implementation writes it (rosinality/vq-vae-2-pytorch vqvae.py ``Quantize``), along any dim: PyTorch
has none. The buffers keep that code's names and layout (``embed`` (D, K), ``cluster_size``,
``embed_avg``), so its checkpoints load by name.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
import torch.nn.functional as F
from torch import nn

# -- written into generated modules: everything below this line --


class VectorQuantizer(nn.Module):
    """Each position's features (at ``dim``) replaced by the nearest codebook vector, the gradient
    passed straight through to the input; returns the quantised input and the int64 codes. In
    training mode the codebook follows the inputs assigned to each vector (moving averages with
    ``decay``, cluster sizes Laplace-smoothed by ``eps``); the commitment loss is not computed."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        dim: int = -1,
        decay: float = 0.99,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.n_embed, self.dim, self.decay, self.eps = num_embeddings, dim, decay, eps
        embed = torch.randn(embedding_dim, num_embeddings)
        self.register_buffer("embed", embed)
        self.register_buffer("cluster_size", torch.zeros(num_embeddings))
        self.register_buffer("embed_avg", embed.clone())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Distances and moving averages in float32 under mixed precision too: an unused vector
        # drifts to about randn / eps (1e5), whose products overflow float16 into nan distances.
        if x.device.type in ("cpu", "cuda"):
            with torch.autocast(x.device.type, enabled=False):
                return self.nearest(x)
        return self.nearest(x)

    def nearest(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        moved = x.movedim(self.dim, -1)
        flatten = moved.detach().reshape(-1, self.embed.shape[0]).float()
        dist = (
            flatten.pow(2).sum(1, keepdim=True)
            - 2 * flatten @ self.embed
            + self.embed.pow(2).sum(0, keepdim=True)
        )
        _, embed_ind = (-dist).max(1)
        quantize = F.embedding(embed_ind, self.embed.transpose(0, 1)).view_as(moved)
        if self.training:
            with torch.no_grad():
                embed_onehot = F.one_hot(embed_ind, self.n_embed).type(flatten.dtype)
                self.cluster_size.mul_(self.decay).add_(
                    embed_onehot.sum(0), alpha=1 - self.decay
                )
                embed_sum = flatten.transpose(0, 1) @ embed_onehot
                self.embed_avg.mul_(self.decay).add_(embed_sum, alpha=1 - self.decay)
                n = self.cluster_size.sum()
                cluster_size = (
                    (self.cluster_size + self.eps) / (n + self.n_embed * self.eps) * n
                )
                self.embed.copy_(self.embed_avg / cluster_size.unsqueeze(0))
        quantize = moved + (quantize - moved).detach()
        return quantize.movedim(-1, self.dim), embed_ind.view(moved.shape[:-1])
