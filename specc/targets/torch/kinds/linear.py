"""PyTorch lowering of Linear, and of MixtureOfExperts (a support module, as Mixtral's block)."""

from __future__ import annotations

from typing import Any

from .. import support
from .base import Lit, Lowering, lowering


@lowering
class Linear(Lowering):
    torch_class = "nn.Linear"
    positional = ("in_features", "out_features")
    defaults = {"bias": True}
    support_when = ("masked_linear",)

    def init(self, args: dict[str, Any], lit: Lit = repr) -> str | None:
        """MADE's layer is the support class MaskedLinear: nn.Linear's arguments, then its mask's settings."""
        if "made" not in args:
            return super().init(args, lit)
        plain = super().init({k: v for k, v in args.items() if k != "made"}, lit) or ""
        made = args["made"]
        return (f"MaskedLinear({plain.partition('(')[2][:-1]}, features={lit(made['features'])}, "
                f"role={lit(made['role'])})")

    def support_texts(self, args: dict[str, Any]) -> list[str]:
        return [*super().support_texts(args), *([support.text("masked_linear")] if "made" in args else [])]



@lowering
class MixtureOfExperts(Lowering):
    torch_class = "MixtureOfExperts"
    support = ("mixture_of_experts",)
    positional = ("in_features", "num_experts", "top_k", "hidden_features")
    defaults = {"activation": "silu", "gated": True, "bias": False, "normalize": True, "shared_features": None,
                "shared_gate": True}
