"""Reductions over chosen dims: Reduce (mean/sum/max/min/l2/var/std) and its shorthand Mean.

Written inline (``x.mean(dim=(1, 2))``, ``x.amax(dim=1, keepdim=True)``,
``torch.linalg.vector_norm(x, dim=(1, 2))`` for l2, the Euclidean norm that ConvNeXt-V2's GRN
takes over the spatial dims); MACs per sample are the input elements (one add, compare or
multiply-add each).
"""

from typing import Any, Literal

from pydantic import AliasChoices, Field, NonNegativeFloat, NonNegativeInt

from ..diagnostics import SpecError
from ..shapes.dims import mul, product
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, Requirement, axis, register, static

DimOrDims = int | tuple[int, ...]


class ReduceParams(LayerParams):
    op: Literal["mean", "sum", "max", "min", "l2", "var", "std"] = "mean"
    dim: DimOrDims = Field(validation_alias=AliasChoices("dim", "axis"))
    keepdim: bool = Field(False, validation_alias=AliasChoices("keepdim", "keepdims"))
    correction: NonNegativeInt | None = Field(None, description="var and std: the sum of squares is divided by "
                                              "the count less this (torch's correction): 1, the default, unbiased; "
                                              "0 the population's (unbiased=False)")
    eps: NonNegativeFloat | None = Field(None, description="std only: sqrt(var + eps), as RevIN and the "
                                         "non-stationary forecasters (iTransformer, PatchTST) take the deviation")


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
        if op in ("mean", "l2", "var", "std") and not x.is_float:
            what = {"mean": "mean", "l2": "L2 norm", "var": "variance", "std": "standard deviation"}[op]
            raise SpecError("S007", f"cannot take the {what} of {x.dtype} data {x}",
                            "use op: sum, or embed/convert the ids to floats first")
        spread = _spread(p, op) if isinstance(p, ReduceParams) else {}
        out = reduced(x, p.dim, p.keepdim)
        if op == "sum" and not x.is_float:
            out = TensorType(out.shape, "int64", out.notes)  # PyTorch sums integers and bools as int64
        dim = p.dim if isinstance(p.dim, int) else tuple(p.dim)
        needs: list[Requirement] = []
        if spread.get("correction"):
            c = spread["correction"]
            count = product([x.shape[axis(d, x.rank)] for d in ((dim,) if isinstance(dim, int) else dim)])
            # the sum of squares over count - correction: 0/0 = nan at a count of correction or less
            if isinstance(count, int) and count <= c:
                raise SpecError("S074", f"the {op} with correction {c} divides the sum of squares by the count less "
                                f"{c}, and dim {list(dim) if isinstance(dim, tuple) else dim} holds {count} "
                                f"value{'s' * (count != 1)}: 0 / 0 = nan",
                                f"use correction: 0 (the population's {op}), or reduce over a dim of more than {c}",
                                field="correction")
            if not isinstance(count, int):
                needs.append(Requirement(count, c + 1, f"op: {op} with correction {c}", "correction"))
        macs = product(x.shape[1:]) if op not in ("var", "std") else mul(product(x.shape[1:]), 3)
        return LayerResult(out, {"op": op, "dim": dim, "keepdim": p.keepdim, **spread}, 0, macs, requires=needs)

def _spread(p: ReduceParams, op: str) -> dict[str, Any]:
    """var's and std's settings (correction, and std's eps), refused on the ops that have none."""
    if op not in ("var", "std"):
        given = "correction" if p.correction is not None else "eps" if p.eps is not None else ""
        if given:
            raise SpecError("V167", f"{given} sets how a var or std divides, but op is {op}",
                            f"remove {given}, or use op: std", field=given)
        return {}
    if op == "var" and p.eps is not None:
        raise SpecError("V167", "eps goes under the square root of op: std (sqrt(var + eps)); op: var adds nothing",
                        "use op: std, or remove eps and add the constant after: - {type: Add, value: 1.0e-5}",
                        field="eps")
    out: dict[str, Any] = {"correction": 1 if p.correction is None else p.correction}
    return out | ({"eps": p.eps} if op == "std" and p.eps else {})


@register
class Reduce(_Reduce):
    type_name, Params = "Reduce", ReduceParams
    summary = ("mean, sum, max, min, l2 (Euclidean norm), var or std over dim (an int or a list), keepdim "
               "optional; var and std take correction (1: unbiased, 0: the population's), std an eps under the root")


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
