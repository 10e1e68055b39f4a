"""Pooling: MaxPool/AvgPool 1d-3d (sliding windows), AdaptiveAvg/MaxPool 1d-3d, global pooling.

Sliding-window pools share the conv arithmetic (``formulas.conv_out`` through
``conv.window_sizes``), ceil_mode included.

MACs per sample: a sliding pool does one compare/add per element of each window
(output elements × kernel elements); adaptive and global pools read each input element
about once (input elements, fvcore's count for adaptive_avg_pool).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import AliasChoices, Field, NonNegativeInt, PositiveInt

from ..diagnostics import SpecError
from ..shapes.dims import DimLike, mul, product
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, ntuple, register
from .conv import Spatial, compact, window_sizes

IntOrTuple = PositiveInt | tuple[PositiveInt, ...]
PadOrTuple = NonNegativeInt | tuple[NonNegativeInt, ...]


class MaxPoolParams(LayerParams):
    kernel_size: IntOrTuple = Field(validation_alias=AliasChoices("kernel_size", "pool_size"))
    stride: IntOrTuple | None = Field(None, validation_alias=AliasChoices("stride", "strides"))
    padding: PadOrTuple = 0
    dilation: IntOrTuple = 1
    ceil_mode: bool = False


class AvgPool1dParams(LayerParams):
    kernel_size: IntOrTuple = Field(validation_alias=AliasChoices("kernel_size", "pool_size"))
    stride: IntOrTuple | None = Field(None, validation_alias=AliasChoices("stride", "strides"))
    padding: PadOrTuple = 0
    ceil_mode: bool = False
    count_include_pad: bool = True


class AvgPoolParams(AvgPool1dParams):
    divisor_override: PositiveInt | None = None


class AdaptivePoolParams(LayerParams):
    output_size: PositiveInt | tuple[PositiveInt | None, ...] = Field(
        description="a positive whole number, or a list of them where null keeps that dim's size")


class GlobalPoolParams(LayerParams):
    keepdim: bool = Field(False, validation_alias=AliasChoices("keepdim", "keepdims"))


class _Pool(Spatial):
    has_dilation = False

    def infer(self, p: Any, ins: list[TensorType]) -> LayerResult:
        x, r = ins[0], self.rank
        k = ntuple(p.kernel_size, r, "kernel_size")
        s = k if p.stride is None else ntuple(p.stride, r, "stride")
        pads = ntuple(p.padding, r, "padding")
        d = ntuple(p.dilation, r, "dilation") if self.has_dilation else (1,) * r
        # PyTorch rejects padding over half the (undilated) kernel in every pool.
        for pi, ki in zip(pads, k):
            if pi > ki // 2:
                raise SpecError("V003", f"padding {pi} is more than half of kernel_size {ki}",
                                f"use padding: {ki // 2} or less (at most kernel_size // 2), or a larger kernel",
                                field="padding")
        spatial = window_sizes(tuple(x.shape[2:]), k, s, pads, d, p.ceil_mode, tuple(ki // 2 for ki in k))
        out = TensorType((x.shape[0], x.shape[1], *spatial), x.dtype)
        args = self.args(p, k, s, pads, d)
        return LayerResult(out, args, 0, mul(product(out.shape[1:]), math.prod(k)))

    def args(self, p: Any, k: tuple[int, ...], s: tuple[int, ...], pads: tuple[int, ...],
             d: tuple[int, ...]) -> dict[str, Any]:
        raise NotImplementedError


class _MaxPool(_Pool):
    Params = MaxPoolParams
    has_dilation = True

    def args(self, p: MaxPoolParams, k: tuple[int, ...], s: tuple[int, ...], pads: tuple[int, ...],
             d: tuple[int, ...]) -> dict[str, Any]:
        return {"kernel_size": compact(k), "stride": None if p.stride is None else compact(s),
                "padding": compact(pads), "dilation": compact(d), "ceil_mode": p.ceil_mode}


class _AvgPool(_Pool):
    Params = AvgPoolParams

    def args(self, p: AvgPool1dParams, k: tuple[int, ...], s: tuple[int, ...], pads: tuple[int, ...],
             d: tuple[int, ...]) -> dict[str, Any]:
        out = {"kernel_size": compact(k), "stride": None if p.stride is None else compact(s),
               "padding": compact(pads), "ceil_mode": p.ceil_mode, "count_include_pad": p.count_include_pad}
        if isinstance(p, AvgPoolParams):
            out["divisor_override"] = p.divisor_override
        return out


class _AdaptivePool(Spatial):
    Params = AdaptivePoolParams

    def infer(self, p: AdaptivePoolParams, ins: list[TensorType]) -> LayerResult:
        x, r = ins[0], self.rank
        sizes = (p.output_size,) * r if isinstance(p.output_size, int) else tuple(p.output_size)
        if len(sizes) != r:
            raise SpecError("V003", f"output_size has {len(sizes)} values but this layer has {r} spatial dims",
                            f"give one number or {r} (null keeps a dim)", field="output_size")
        if r == 1 and None in sizes:
            raise SpecError("V003", f"{self.type_name} takes no null in output_size (PyTorch's 1-d adaptive pools "
                            "need a number)", f"give the length to pool to, e.g. output_size: "
                            f"{x.shape[2] if isinstance(x.shape[2], int) else 1}", field="output_size")
        spatial = tuple(L if o is None else o for L, o in zip(x.shape[2:], sizes))
        out = TensorType((x.shape[0], x.shape[1], *spatial), x.dtype)
        size = p.output_size if isinstance(p.output_size, int) else tuple(p.output_size)
        args: dict[str, Any] = {"output_size": size}
        if any(not self._exports(L, o, sizes) for L, o in zip(x.shape[2:], sizes)):
            args = {"output_size": sizes, "op": "max" if "Max" in self.type_name else "avg"}
        return LayerResult(out, args, 0, product(x.shape[1:]))

    def _exports(self, size: DimLike, o: int | None, sizes: tuple[int | None, ...]) -> bool:
        """Whether the exporters write nn's adaptive pool of ``size`` to ``o`` correctly. ONNX has no
        adaptive pooling: they write a global pool when every output size is 1 and a fixed pool when
        the size divides evenly (the dynamo exporter also decomposes uneven 1-d and 2-d average pools);
        otherwise they fail, or pool with the windows of the example size at every other size (an
        output of 1 beside another size, e.g. (3, 1) over (3, L), is such a fixed window)."""
        if o is None or (o == 1 and all(other == 1 for other in sizes)):
            return True
        if isinstance(size, int):
            return size % o == 0 or (self.type_name.startswith("AdaptiveAvg") and self.rank <= 2)
        return False


@register
class MaxPool1d(_MaxPool):
    type_name, rank = "MaxPool1d", 1
    aliases = ("MaxPooling1D",)
    summary = "max over sliding windows of (N, C, L)"


@register
class MaxPool2d(_MaxPool):
    type_name, rank = "MaxPool2d", 2
    aliases = ("MaxPooling2D",)
    summary = "max over sliding windows of (N, C, H, W)"


@register
class MaxPool3d(_MaxPool):
    type_name, rank = "MaxPool3d", 3
    aliases = ("MaxPooling3D",)
    summary = "max over sliding windows of (N, C, D, H, W)"


@register
class AvgPool1d(_AvgPool):
    type_name, rank = "AvgPool1d", 1
    aliases = ("AveragePooling1D",)
    Params = AvgPool1dParams
    summary = "mean over sliding windows of (N, C, L)"


@register
class AvgPool2d(_AvgPool):
    type_name, rank = "AvgPool2d", 2
    aliases = ("AveragePooling2D",)
    summary = "mean over sliding windows of (N, C, H, W)"


@register
class AvgPool3d(_AvgPool):
    type_name, rank = "AvgPool3d", 3
    aliases = ("AveragePooling3D",)
    summary = "mean over sliding windows of (N, C, D, H, W)"


@register
class AdaptiveAvgPool1d(_AdaptivePool):
    type_name, rank = "AdaptiveAvgPool1d", 1
    summary = "mean-pool (N, C, L) to output_size"


@register
class AdaptiveAvgPool2d(_AdaptivePool):
    type_name, rank = "AdaptiveAvgPool2d", 2
    summary = "mean-pool (N, C, H, W) to output_size"


@register
class AdaptiveAvgPool3d(_AdaptivePool):
    type_name, rank = "AdaptiveAvgPool3d", 3
    summary = "mean-pool (N, C, D, H, W) to output_size"


@register
class AdaptiveMaxPool1d(_AdaptivePool):
    type_name, rank = "AdaptiveMaxPool1d", 1
    summary = "max-pool (N, C, L) to output_size"


@register
class AdaptiveMaxPool2d(_AdaptivePool):
    type_name, rank = "AdaptiveMaxPool2d", 2
    summary = "max-pool (N, C, H, W) to output_size"


@register
class AdaptiveMaxPool3d(_AdaptivePool):
    type_name, rank = "AdaptiveMaxPool3d", 3
    summary = "max-pool (N, C, D, H, W) to output_size"


class _GlobalPool(LayerKind):
    """Reduce every spatial dim of (N, C, *spatial): an operation, with no module of its own."""

    Params = GlobalPoolParams
    ranks = (3, 4, 5)
    layout = "(N, C, *spatial)"
    form = "inline"

    def infer(self, p: GlobalPoolParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        dims = tuple(range(2, x.rank))
        shape = (*x.shape[:2], *((1,) * len(dims) if p.keepdim else ()))
        return LayerResult(TensorType(shape, x.dtype, {1: x.notes[1]} if 1 in x.notes else {}),
                           {"dim": dims, "keepdim": p.keepdim}, 0, product(x.shape[1:]))


@register
class GlobalAvgPool(_GlobalPool):
    type_name = "GlobalAvgPool"
    aliases = ("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D")
    summary = "mean over every spatial dim: (N, C, *spatial) -> (N, C)"


@register
class GlobalMaxPool(_GlobalPool):
    type_name = "GlobalMaxPool"
    aliases = ("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D")
    summary = "max over every spatial dim: (N, C, *spatial) -> (N, C)"
