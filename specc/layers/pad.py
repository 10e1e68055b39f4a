"""Padding layers: ZeroPad, ConstantPad, ReflectionPad and ReplicationPad in 1d, 2d and 3d.

``padding`` is one number for every side, or one per side in PyTorch's order, last dim first:
(left, right) for 1d, (left, right, top, bottom) for 2d, then (front, back) for 3d.  Each
padded dim grows by its two sides.  The last ``rank`` dims are padded; PyTorch takes the
input with or without its batch dim, so (C, L) and (N, C, L) both suit a 1d pad.

Reflection mirrors the input without repeating its edge, so each side needs pad < size
(S002 for a fixed size, a requirement on the symbols otherwise).  No parameters, 0 MACs:
padding copies, it does not multiply.
"""

from typing import Any

from pydantic import NonNegativeInt

from ..diagnostics import SpecError
from ..shapes.dims import DimLike, add
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, Requirement, register

# One number, or two per padded dim; negative padding (cropping) is left to Slice.
Padding = NonNegativeInt | tuple[NonNegativeInt, ...]


class PadParams(LayerParams):
    padding: Padding


class ConstantPadParams(PadParams):
    value: float


_DIMS = {1: "(N, C, L) or (C, L)", 2: "(N, C, H, W) or (C, H, W)", 3: "(N, C, D, H, W) or (C, D, H, W)"}
_ANY_LEADING = {1: "(*, L)", 2: "(*, H, W)", 3: "(*, D, H, W)"}
_SIDES = {1: "left, right", 2: "left, right, top, bottom", 3: "left, right, top, bottom, front, back"}


def _sides(padding: int | tuple[int, ...], rank: int) -> tuple[tuple[int, int], ...]:
    """(before, after) per padded dim, the first padded dim first (PyTorch lists the last first)."""
    if isinstance(padding, int):
        return ((padding, padding),) * rank
    if len(padding) != 2 * rank:
        raise SpecError("V003", f"padding has {len(padding)} values but a {rank}d pad takes one or {2 * rank}",
                        f"give one number for every side, or {2 * rank}: [{_SIDES[rank]}] (the last dim first, as "
                        "PyTorch orders them)", field="padding")
    pairs = [(padding[2 * i], padding[2 * i + 1]) for i in range(rank)]
    return tuple(reversed(pairs))


class _Pad(LayerKind):
    """Pads the last ``rank`` dims of its input; ``mode`` decides what fills the border."""

    rank: int
    mode: str  # "constant", "reflect" or "replicate"
    accepts = "any"

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if hasattr(cls, "rank") and cls.mode != "constant":
            cls.ranks = (cls.rank + 1, cls.rank + 2)
            cls.layout = _DIMS[cls.rank]
        elif hasattr(cls, "rank"):
            cls.layout = _ANY_LEADING[cls.rank]

    def infer(self, p: PadParams, ins: list[TensorType]) -> LayerResult:
        x, r = ins[0], self.rank
        if x.rank < r:
            raise SpecError("S003", f"pads the last {r} dims, but its input {x} has {x.rank}",
                            f"use ZeroPad{x.rank}d or ConstantPad{x.rank}d for a rank-{x.rank} input" if x.rank
                            else "pad a tensor with dims", field="padding")
        if isinstance(p, ConstantPadParams) and not x.is_float and (
                p.value != int(p.value) or (x.dtype == "bool" and p.value not in (0, 1))):
            fit = int(p.value) if x.dtype != "bool" else int(bool(p.value))
            raise SpecError("V003", f"value {p.value} cannot be stored in the {x.dtype} input {x}: PyTorch would "
                            f"pad with {fit}", f"use value: {fit}, or give this layer a float input", field="value")
        sides = _sides(p.padding, r)
        lead = x.rank - r
        needs: list[Requirement] = []
        for i, (size, (before, after)) in enumerate(zip(x.shape[lead:], sides)):
            needs += self._fits(size, before, after, lead + i)
        shape = (*x.shape[:lead], *(add(size, b + a) for size, (b, a) in zip(x.shape[lead:], sides)))
        notes = {i: n for i, n in x.notes.items() if i < lead}
        args: dict[str, Any] = {"padding": p.padding}
        if isinstance(p, ConstantPadParams):
            args["value"] = p.value
        return LayerResult(TensorType(shape, x.dtype, notes), args, 0, 0, requires=needs)

    def _fits(self, size: DimLike, before: int, after: int, dim: int) -> list[Requirement]:
        """Reflection mirrors at most size - 1 elements on each side."""
        if self.mode != "reflect" or not (before or after):
            return []
        pad = max(before, after)
        if isinstance(size, int):
            if pad >= size:
                raise SpecError("S002", f"cannot pad {pad} along dim {dim} of size {size} by reflection, "
                                "which needs padding smaller than the size it mirrors",
                                f"use padding of at most {size - 1} there, or ReplicationPad{self.rank}d, or "
                                "pad less and add a conv's padding", field="padding")
            return []
        return [Requirement(size, pad + 1, f"{self.type_name} padding {pad} along dim {dim}", "padding")]


class _ZeroPad(_Pad):
    # No Keras ZeroPadding2D alias: Keras lists ((top, bottom), (left, right)), first dim first.
    Params, mode = PadParams, "constant"


class _ConstantPad(_Pad):
    Params, mode = ConstantPadParams, "constant"


class _ReflectionPad(_Pad):
    Params, mode = PadParams, "reflect"
    accepts = "float"  # integer inputs run in PyTorch, but no export of them is verified here


class _ReplicationPad(_Pad):
    Params, mode = PadParams, "replicate"
    accepts = "float"  # likewise


@register
class ZeroPad1d(_ZeroPad):
    type_name, rank = "ZeroPad1d", 1
    summary = "pad the last dim with zeros: padding as one number or (left, right)"


@register
class ZeroPad2d(_ZeroPad):
    type_name, rank = "ZeroPad2d", 2
    summary = "pad the last 2 dims with zeros: padding as one number or (left, right, top, bottom)"


@register
class ZeroPad3d(_ZeroPad):
    type_name, rank = "ZeroPad3d", 3
    summary = "pad the last 3 dims with zeros: one number or (left, right, top, bottom, front, back)"


@register
class ConstantPad1d(_ConstantPad):
    type_name, rank = "ConstantPad1d", 1
    summary = "pad the last dim with value: padding as one number or (left, right)"


@register
class ConstantPad2d(_ConstantPad):
    type_name, rank = "ConstantPad2d", 2
    summary = "pad the last 2 dims with value: padding as one number or (left, right, top, bottom)"


@register
class ConstantPad3d(_ConstantPad):
    type_name, rank = "ConstantPad3d", 3
    summary = "pad the last 3 dims with value: one number or (left, right, top, bottom, front, back)"


@register
class ReflectionPad1d(_ReflectionPad):
    type_name, rank = "ReflectionPad1d", 1
    summary = "pad the last dim by mirroring it (each side < its size): one number or (left, right)"


@register
class ReflectionPad2d(_ReflectionPad):
    type_name, rank = "ReflectionPad2d", 2
    summary = "pad the last 2 dims by mirroring them (each side < its size), as style-transfer nets do"


@register
class ReflectionPad3d(_ReflectionPad):
    type_name, rank = "ReflectionPad3d", 3
    summary = "pad the last 3 dims by mirroring them (each side < its size)"


@register
class ReplicationPad1d(_ReplicationPad):
    type_name, rank = "ReplicationPad1d", 1
    summary = "pad the last dim by repeating its edge values: one number or (left, right)"


@register
class ReplicationPad2d(_ReplicationPad):
    type_name, rank = "ReplicationPad2d", 2
    summary = "pad the last 2 dims by repeating their edge values"


@register
class ReplicationPad3d(_ReplicationPad):
    type_name, rank = "ReplicationPad3d", 3
    summary = "pad the last 3 dims by repeating their edge values"
