"""PyTorch lowering of Embedding and SinusoidalEmbedding."""

from __future__ import annotations

from typing import Any

from .base import Lowering, lowering


@lowering
class Embedding(Lowering):
    torch_class = "nn.Embedding"
    positional = ("num_embeddings", "embedding_dim")
    defaults = {"padding_idx": None, "max_norm": None, "norm_type": 2.0, "scale_grad_by_freq": False,
                "sparse": False}


@lowering
class SinusoidalEmbedding(Lowering):
    support = ("timestep_embedding",)  # diffusers' get_timestep_embedding; PyTorch has none

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        given = [f"{k}={args[k]!r}" for k, default in _SINUSOID_DEFAULTS.items() if args[k] != default]
        return f"timestep_embedding({', '.join([inputs[0], str(args['dim']), *given])})"


@lowering
class VectorQuantizer(Lowering):
    torch_class = "VectorQuantizer"
    support = ("vector_quantizer",)
    positional = ("num_embeddings", "embedding_dim")
    defaults = {"dim": -1, "decay": 0.99, "eps": 1e-5}


_SINUSOID_DEFAULTS = {"flip_sin_to_cos": False, "downscale_freq_shift": 1.0, "max_period": 10000.0, "scale": 1.0}
