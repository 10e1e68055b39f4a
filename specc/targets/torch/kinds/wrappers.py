"""PyTorch lowering of TimeDistributed: the wrapped layer's module, called on the steps folded
into the batch and unfolded after: ``unfold_steps(self.conv(x.flatten(0, 1)), x)``."""

from __future__ import annotations

from typing import Any

from ....layers.wrappers import inner_args
from .base import LOWERINGS, Lit, Lowering, lowering


@lowering
class TimeDistributed(Lowering):
    # Set so that generated code gives it an attribute; init writes the wrapped layer's
    # constructor (None for an inline operation, which then needs no attribute).
    torch_class = "TimeDistributed"
    support = ("unfold_steps",)

    def init(self, args: dict[str, Any], lit: Lit = repr) -> str | None:
        return _wrapped(args).init(inner_args(args), lit)

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        x = inputs[0]
        wrapped = _wrapped(args)
        inner = wrapped.forward(module if wrapped.torch_class else "", [f"{x}.flatten(0, 1)"], inner_args(args))
        return f"unfold_steps({inner}, {x})"

    def support_texts(self, args: dict[str, Any]) -> list[str]:
        return [*super().support_texts(args), *_wrapped(args).support_texts(inner_args(args))]


def _wrapped(args: dict[str, Any]) -> Lowering:
    lowered = LOWERINGS.get(args["layer"]) if isinstance(args["layer"], str) else None
    if lowered is None:  # a block whose instances wrap different types in the same place
        raise ValueError("TimeDistributed in a block must wrap the same layer type in every instance")
    return lowered

