"""SinusoidalEmbedding: diffusers' ``get_timestep_embedding``, which PyTorch lacks; DiT's
``TimestepEmbedder.timestep_embedding`` is the same computation with ``flip_sin_to_cos=True`` and
``downscale_freq_shift=0``.

The same operations in the same order as the references (the frequencies made in float32 from an
arange, the timesteps cast to float32), so the values are theirs bit for bit.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import math

import torch
from torch.nn import functional as F

# -- written into generated modules: everything below this line --


def timestep_embedding(
    timesteps: torch.Tensor,
    dim: int,
    flip_sin_to_cos: bool = False,
    downscale_freq_shift: float = 1.0,
    max_period: float = 10000.0,
    scale: float = 1.0,
) -> torch.Tensor:
    """(B,) timesteps to (B, dim): sines then cosines (cosines first with flip_sin_to_cos) of the
    timesteps at dim // 2 frequencies from 1 down to about 1 / max_period; an odd dim ends in 0."""
    half_dim = dim // 2
    exponent = -math.log(max_period) * torch.arange(
        start=0, end=half_dim, dtype=torch.float32, device=timesteps.device
    )
    exponent = exponent / (half_dim - downscale_freq_shift)
    emb = torch.exp(exponent)
    emb = timesteps[:, None].float() * emb[None, :]
    emb = scale * emb
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half_dim:], emb[:, :half_dim]], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb
