"""Resampling: Upsample (alias Interpolate), PyTorch's nn.Upsample / F.interpolate.

Exactly one of ``size`` (the output's spatial sizes) and ``scale_factor`` (a factor per spatial
dim), or a second input whose spatial size the output takes at run time (``from: [x, like]``:
PyTorch's ``F.interpolate(x, size=like.shape[2:])``, how FPN and U-Net decoders meet a skip
connection of any size).  A scale gives floor(size · scale) along each dim, computed as PyTorch computes it (in
double precision) for a fixed size.  For a symbolic size the rule must hold at every value of
the symbols, which floating-point rounding promises only when size · scale is exact: a scale
that is a multiple of 1/256 (2, 1.5, 0.5, 0.25, ...) keeps it exact for any size a tensor can
have, so other scales need fixed sizes.

MACs per sample: the taps each output element weighs (2 for linear, 4 bilinear, 16 bicubic,
8 trilinear; fvcore counts bilinear so), 0 for nearest, which copies.
"""

import math
from fractions import Fraction
from typing import Any, Literal

from pydantic import PositiveFloat, PositiveInt, field_validator

from ..diagnostics import SpecError
from ..shapes.dims import DimLike, floordiv, mul, product
from ..shapes.tensor import TensorType
from .base import Form, LayerKind, LayerParams, LayerResult, Requirement, register

Mode = Literal["nearest", "linear", "bilinear", "bicubic", "trilinear"]

# The input rank each interpolating mode is defined on (nearest takes any of 3 to 5).
_MODE_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_MODE_FOR_RANK = {3: "linear", 4: "bilinear", 5: "trilinear"}
_TAPS = {"nearest": 0, "linear": 2, "bilinear": 4, "bicubic": 16, "trilinear": 8}
_LAYOUT = {3: "(N, C, L)", 4: "(N, C, H, W)", 5: "(N, C, D, H, W)"}
# Scales whose product with any size is exact in double precision (the denominator of a float is
# a power of two; sizes stay far below 2**44).
_EXACT_DENOMINATOR = 256


class UpsampleParams(LayerParams):
    size: PositiveInt | tuple[PositiveInt, ...] | None = None
    scale_factor: PositiveFloat | tuple[PositiveFloat, ...] | None = None
    mode: Mode = "nearest"
    align_corners: bool | None = None

    @field_validator("size", mode="before")
    @classmethod
    def _named_size(cls, v: Any) -> Any:
        # size: [H, W] means "the size some input has": a fixed size cannot say that, a second input can
        names = [d for d in (v if isinstance(v, (list, tuple)) else [v]) if isinstance(d, str) and d.isidentifier()]
        if names:
            raise ValueError(f"size takes numbers of pixels, not dim names ({', '.join(names)}); to resize to the "
                             "size another tensor has at run time, drop size and read that tensor as a second "
                             "input: from: [x, like]")
        return v


def _per_dim(v: Any, n: int, name: str) -> tuple[Any, ...]:
    if not isinstance(v, tuple):
        return (v,) * n
    if len(v) != n:
        raise SpecError("V003", f"{name} has {len(v)} values but the input has {n} spatial dims",
                        f"give one number or {n}", field=name)
    return v


def _scaled(size: DimLike, scale: float, i: int) -> tuple[DimLike, list[Requirement]]:
    """floor(size · scale), PyTorch's output size, with what a symbolic size must reach."""
    if isinstance(size, int):
        out = math.floor(float(size) * scale)
        if out < 1:
            smallest = math.ceil(Fraction(1) / Fraction(scale))  # exact: 1 / 1e-320 overflows a float
            feed = f"feed a size of at least {smallest} there, or " if smallest < 2**63 else ""
            raise SpecError("S002", f"scale_factor {scale} turns spatial dim {i} of size {size} into {out}",
                            f"{feed}use a larger scale_factor", field="scale_factor")
        return out, []
    exact = Fraction(scale)
    if exact.denominator > _EXACT_DENOMINATOR:
        syms = ", ".join(sorted(size.symbols()))
        raise SpecError("S005", f"scale_factor {scale} on the symbolic size {size} gives floor({size} · {scale}), "
                        "which floating-point rounding decides differently at some sizes",
                        f"use a scale that is a multiple of 1/{_EXACT_DENOMINATOR} (such as 2, 1.5 or 0.5), give "
                        f"size: instead, or give {syms} a fixed size in inputs:", field="scale_factor")
    out = floordiv(mul(size, exact.numerator), exact.denominator)
    least = math.ceil(Fraction(1) / exact)
    needs = [Requirement(size, least, f"scale_factor {scale} along spatial dim {i}", "scale_factor")] \
        if least > 1 else []
    return out, needs


@register
class Upsample(LayerKind):
    type_name, Params = "Upsample", UpsampleParams
    aliases = ("Interpolate",)
    ranks, layout = (3, 4, 5), "(N, C, *spatial)"
    min_inputs, max_inputs = 1, 2
    summary = ("resize the spatial dims to size, by scale_factor (floor(size · scale)), or to a second input's "
               "(from: [x, like]): nearest, linear, bilinear, bicubic or trilinear")

    def applied(self, args: dict[str, Any]) -> Form:
        return "inline" if args.get("like") else self.form  # F.interpolate(x, size=like.shape[2:]): no module

    def infer(self, p: UpsampleParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        like = ins[1] if len(ins) > 1 else None
        n = x.rank - 2
        want = _MODE_RANK.get(p.mode)
        if want is not None and x.rank != want:
            fit = _MODE_FOR_RANK[x.rank]
            raise SpecError("S003", f"mode '{p.mode}' resizes a rank-{want} input {_LAYOUT[want]}, got rank "
                            f"{x.rank} {x}", f"use mode: {fit} (or nearest) for a {_LAYOUT[x.rank]} input",
                            field="mode")
        if p.align_corners is not None and want is None:
            raise SpecError("V003", "align_corners applies only to the interpolating modes (linear, bilinear, "
                            "bicubic, trilinear), not to nearest",
                            f"drop align_corners, or use mode: {_MODE_FOR_RANK[x.rank]}", field="align_corners")
        needs: list[Requirement] = []
        if like is not None:
            if p.size is not None or p.scale_factor is not None:
                raise SpecError("V003", "Upsample with a second input takes its output size from that input, so "
                                "size and scale_factor have no say", "drop size and scale_factor, or the second "
                                "input", field="scale_factor" if p.size is None else "size")
            if like.rank != x.rank:
                raise SpecError("S003", f"Upsample resizes {x} to the spatial size of its second input, which must "
                                f"have the same rank, got {like}", "give as second input the map whose size the "
                                "output should have (the skip connection it is added or concatenated to)")
            spatial: tuple[DimLike, ...] = like.shape[2:]
        elif (p.size is None) == (p.scale_factor is None):
            both = "both size and scale_factor" if p.size is not None else "neither size nor scale_factor"
            raise SpecError("V003", f"Upsample takes exactly one of size and scale_factor, got {both}",
                            "give scale_factor: 2 to double every spatial dim, size: [H, W] for a fixed output, or "
                            "a second input (from: [x, skip]) to take that map's size",
                            field="scale_factor" if p.size is not None else None)
        elif p.size is not None:
            spatial = _per_dim(p.size, n, "size")
        else:
            outs = []
            for i, (size, scale) in enumerate(zip(x.shape[2:], _per_dim(p.scale_factor, n, "scale_factor"))):
                o, need = _scaled(size, scale, i)
                outs.append(o)
                needs += need
            spatial = tuple(outs)
        out = TensorType((x.shape[0], x.shape[1], *spatial), x.dtype, {1: x.notes[1]} if 1 in x.notes else {})
        args = {"size": p.size, "scale_factor": p.scale_factor, "mode": p.mode, "align_corners": p.align_corners,
                "like": like is not None}
        return LayerResult(out, args, 0, mul(product(out.shape[1:]), _TAPS[p.mode]), requires=needs)
