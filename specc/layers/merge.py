"""Layers that merge several inputs: Add, Mul (broadcasting) and Concat."""

from __future__ import annotations

from typing import Any

from ..diagnostics import SpecError
from ..shapes.dims import Dim, add
from ..shapes.formulas import broadcast
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, axis, register


class NoParams(LayerParams):
    pass


class ConcatParams(LayerParams):
    dim: int = 1


class _Broadcasting(LayerKind):
    Params = NoParams
    min_inputs, max_inputs = 2, None
    op: str

    def infer(self, p: NoParams, ins: list[TensorType]) -> LayerResult:
        shape = ins[0].shape
        for i, t in enumerate(ins[1:], start=1):
            merged = broadcast(shape, t.shape)
            if merged is None:
                symbolic = any(isinstance(d, Dim) for d in (*shape, *t.shape))
                raise SpecError(
                    "S010" if symbolic and len(shape) == len(t.shape) and _only_symbolic_differ(shape, t.shape)
                    else "S006",
                    f"{self.type_name} cannot combine input 1 {TensorType(shape)} with input {i + 1} {t}",
                    "shapes must match or broadcast (each dim equal, or 1); on a residual path, project the "
                    "shortcut with a 1x1 conv (stride and out_channels of the main path)")
            shape = merged
        dtype = ins[0].dtype
        return LayerResult(TensorType(shape, dtype), {}, 0, 0)

    def torch_forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f" {self.op} ".join(inputs)


def _only_symbolic_differ(a: tuple, b: tuple) -> bool:
    return all(x == y or isinstance(x, Dim) or isinstance(y, Dim) for x, y in zip(a, b))


@register
class Add(_Broadcasting):
    type_name, op, aliases = "Add", "+", ()
    summary = "element-wise sum of two or more inputs (residual connections)"


@register
class Mul(_Broadcasting):
    type_name, op, aliases = "Mul", "*", ("Multiply",)
    summary = "element-wise product of two or more inputs (gating, squeeze-excitation)"


@register
class Concat(LayerKind):
    type_name, aliases = "Concat", ("Concatenate", "Cat")
    Params = ConcatParams
    min_inputs, max_inputs = 2, None
    accepts = "any"
    summary = "concatenate inputs along dim (default 1, the channel dim)"

    def infer(self, p: ConcatParams, ins: list[TensorType]) -> LayerResult:
        first = ins[0]
        d = axis(p.dim, first.rank)
        total = first.shape[d]
        for i, t in enumerate(ins[1:], start=1):
            if t.rank != first.rank:
                raise SpecError("S006", f"Concat inputs have different ranks: {first} and input {i + 1} {t}",
                                "reshape one of them first")
            for j, (x, y) in enumerate(zip(first.shape, t.shape)):
                if j != d and x != y:
                    raise SpecError(
                        "S010" if isinstance(x, Dim) or isinstance(y, Dim) else "S006",
                        f"Concat along dim {p.dim}: input 1 {first} and input {i + 1} {t} differ at dim {j}",
                        f"all dims except dim {p.dim} must match; did you mean dim: {j}?", field="dim")
            total = add(total, t.shape[d])
        shape = list(first.shape)
        shape[d] = total
        return LayerResult(TensorType(tuple(shape), first.dtype), {"dim": p.dim}, 0, 0)

    def torch_forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"torch.cat([{', '.join(inputs)}], dim={args['dim']})"
