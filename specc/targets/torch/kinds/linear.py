"""PyTorch lowering of Linear, and of MixtureOfExperts (a support module, as Mixtral's block)."""

from __future__ import annotations

from .base import Lowering, lowering


@lowering
class Linear(Lowering):
    torch_class = "nn.Linear"
    positional = ("in_features", "out_features")
    defaults = {"bias": True}



@lowering
class MixtureOfExperts(Lowering):
    torch_class = "MixtureOfExperts"
    support = ("mixture_of_experts",)
    positional = ("in_features", "num_experts", "top_k", "hidden_features")
    defaults = {"activation": "silu", "gated": True, "bias": False, "normalize": True, "shared_features": None,
                "shared_gate": True}
