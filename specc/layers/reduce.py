"""Reductions over chosen dims: Reduce (mean/sum/max/min/l2) and its shorthand Mean.

Written inline (``x.mean(dim=(1, 2))``, ``x.amax(dim=1, keepdim=True)``,
``torch.linalg.vector_norm(x, dim=(1, 2))`` for l2, the Euclidean norm that ConvNeXt-V2's GRN
takes over the spatial dims); MACs per sample are the input elements (one add, compare or
multiply-add each).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field

from ..diagnostics import SpecError
from ..shapes.dims import mul, product
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, axis, register, static

DimOrDims = int | tuple[int, ...]


class ReduceParams(LayerParams):
    op: Literal["mean", "sum", "max", "min", "l2"] = "mean"
    dim: DimOrDims = Field(validation_alias=AliasChoices("dim", "axis"))
    keepdim: bool = Field(False, validation_alias=AliasChoices("keepdim", "keepdims"))


class MeanParams(LayerParams):
    dim: DimOrDims = Field(validation_alias=AliasChoices("dim", "axis"))
    keepdim: bool = Field(False, validation_alias=AliasChoices("keepdim", "keepdims"))


def reduced(x: TensorType, dim: DimOrDims, keepdim: bool) -> TensorType:
    """The type of ``x`` reduced over ``dim`` (checked: in range, each dim once)."""
    given = (dim,) if isinstance(dim, int) else tuple(dim)
    if not given:
        raise SpecError("V003", "dim is an empty list", "name at least one dim to reduce, e.g. dim: 1", field="dim")
    dims = tuple(axis(d, x.rank) for d in given)
    if len(set(dims)) != len(dims):
        raise SpecError("S008", f"dim {list(given)} names the same dim twice (tensor of rank {x.rank})",
                        f"list each dim once: {sorted(set(dims))}", field="dim")
    shape: list[Any] = []
    notes: dict[int, str] = {}
    for i, d in enumerate(x.shape):
        if i in dims:
            if keepdim:
                shape.append(1)
            continue
        if i in x.notes:
            notes[len(shape)] = x.notes[i]
        shape.append(d)
    return TensorType(tuple(shape), x.dtype, notes)


class _Reduce(LayerKind):
    accepts = "any"
    form = "inline"

    def infer(self, p: Any, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        op = getattr(p, "op", "mean")
        if op in ("mean", "l2") and not x.is_float:
            what = "mean" if op == "mean" else "L2 norm"
            raise SpecError("S007", f"cannot take the {what} of {x.dtype} data {x}",
                            "use op: sum, or embed/convert the ids to floats first")
        out = reduced(x, p.dim, p.keepdim)
        if op == "sum" and not x.is_float:
            out = TensorType(out.shape, "int64", out.notes)  # PyTorch sums integers and bools as int64
        dim = p.dim if isinstance(p.dim, int) else tuple(p.dim)
        return LayerResult(out, {"op": op, "dim": dim, "keepdim": p.keepdim}, 0, product(x.shape[1:]))

@register
class Reduce(_Reduce):
    type_name, Params = "Reduce", ReduceParams
    summary = "mean, sum, max, min or l2 (Euclidean norm) over dim (an int or a list), keepdim optional"


@register
class Mean(_Reduce):
    type_name, Params = "Mean", MeanParams
    accepts = "float"
    summary = "mean over dim (an int or a list), keepdim optional"


class SoftArgmaxParams(LayerParams):
    dim: int = Field(-1, validation_alias=AliasChoices("dim", "axis"))
    keepdim: bool = Field(False, validation_alias=AliasChoices("keepdim", "keepdims"))


@register
class SoftArgmax(LayerKind):
    """The expected index under a softmax along dim, ``Σ_i i · softmax(x)_i`` for i = 0 .. n - 1: the
    integral of Generalized Focal Loss (Li et al. 2020) and YOLOv6/v8's Distribution Focal Loss head
    (ultralytics' DFL, a softmax over reg_max bins and a frozen 1x1 conv of weights 0 .. reg_max - 1),
    and the soft-argmax of integral pose regression. The bins are a fixed number; dim is removed
    (kept as 1 with keepdim)."""

    type_name, Params = "SoftArgmax", SoftArgmaxParams
    form = "inline"
    summary = "Σ i·softmax(x)_i along dim: the expected bin (DFL's box distances, GFL's integral, soft-argmax)"

    def infer(self, p: SoftArgmaxParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        d = axis(p.dim, x.rank)
        n = static(x.shape[d], "the number of bins SoftArgmax weighs", "dim")
        out = reduced(x, d, p.keepdim)
        return LayerResult(out, {"dim": d - x.rank, "bins": n, "keepdim": p.keepdim}, 0, mul(product(x.shape[1:]), 3))
