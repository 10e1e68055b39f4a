"""PyTorch lowering of the merges, written inline in ``forward``."""

from __future__ import annotations

from typing import Any

from .base import Lowering, lowering, on


@lowering
class Add(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return " + ".join(inputs)


@lowering
class Mul(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return " * ".join(inputs)


@lowering
class Sub(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"{on(inputs[0])} - {on(inputs[1])}"


@lowering
class Div(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"torch.div({inputs[0]}, {inputs[1]})"


@lowering
class Max(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"torch.maximum({inputs[0]}, {inputs[1]})"


@lowering
class Min(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"torch.minimum({inputs[0]}, {inputs[1]})"


@lowering
class Concat(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"torch.cat([{', '.join(inputs)}], dim={args['dim']})"

