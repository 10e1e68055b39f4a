"""PyTorch lowering of the merges, written inline in ``forward``."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Lowering, lowering, on


def operands(inputs: list[str], args: dict[str, Any]) -> list[str]:
    """The inputs, and the constant (``value:``) as the second operand where there is one."""
    return [*inputs, repr(args["value"])] if args.get("value") is not None else inputs


@lowering
class Add(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return " + ".join(operands(inputs, args))


@lowering
class Mul(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return " * ".join(operands(inputs, args))


class _Binary(Lowering):
    """Two inputs (or one and the constant) into one expression: ``template`` with ``{a}`` and ``{b}``."""

    template: ClassVar[str]

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        a, b = operands(inputs, args)
        return self.template.format(a=a, b=b)


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



@lowering
class Modulate(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        # DiT's x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1): each vector indexed to x's rank
        x, shift, scale = inputs
        rank = len(args["axes"]) + 2
        index = "[" + ", ".join(":" if i == 0 or i == args["dim"] else "None" for i in range(rank)) + "]"
        return f"{on(x)} * (1 + {on(scale)}{index}) + {on(shift)}{index}"


@lowering
class WeightedSum(Lowering):
    torch_class = "WeightedSum"
    support = ("weighted_sum",)
    positional = ("n",)
    defaults = {"normalize": "fast", "eps": 1e-4, "init": 1.0}
