"""PyTorch lowering of the merges, written inline in ``forward``."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Lowering, lowering


@lowering
class Add(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return " + ".join(inputs)


@lowering
class Mul(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return " * ".join(inputs)


class _Binary(Lowering):
    """Two inputs into one expression: ``template`` with ``{a}`` and ``{b}``."""

    template: ClassVar[str]

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return self.template.format(a=inputs[0], b=inputs[1])


@lowering
class Sub(_Binary):
    template = "{a} - {b}"  # each input is a name or name[i] (a Split's part): no parentheses needed


@lowering
class Div(_Binary):
    template = "torch.div({a}, {b})"


@lowering
class Max(_Binary):
    template = "torch.maximum({a}, {b})"


@lowering
class Min(_Binary):
    template = "torch.minimum({a}, {b})"


@lowering
class MatMul(_Binary):
    template = "torch.matmul({a}, {b})"


@lowering
class Concat(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"torch.cat([{', '.join(inputs)}], dim={args['dim']})"

