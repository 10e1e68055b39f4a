"""PyTorch lowering of the merges, written inline in ``forward``."""

from __future__ import annotations

from typing import Any

from .base import Lowering, lowering


@lowering
class Add(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return " + ".join(inputs)


@lowering
class Mul(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return " * ".join(inputs)


@lowering
class Concat(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"torch.cat([{', '.join(inputs)}], dim={args['dim']})"

