"""Convolutions: Conv1d/2d/3d and ConvTranspose1d/2d/3d, one base class for every rank."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import AliasChoices, Field, NonNegativeInt, PositiveInt

from ..diagnostics import SpecError
from ..shapes.dims import mul, product
from ..shapes.formulas import conv_out, conv_transpose_out
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, check_given, ntuple, positive, register

IntOrTuple = PositiveInt | tuple[PositiveInt, ...]
PadOrTuple = NonNegativeInt | tuple[NonNegativeInt, ...]


class ConvParams(LayerParams):
    out_channels: PositiveInt = Field(validation_alias=AliasChoices("out_channels", "filters"))
    kernel_size: IntOrTuple
    stride: IntOrTuple = Field(1, validation_alias=AliasChoices("stride", "strides"))
    padding: PadOrTuple | Literal["same", "valid"] = 0
    dilation: IntOrTuple = Field(1, validation_alias=AliasChoices("dilation", "dilation_rate"))
    groups: PositiveInt = 1
    bias: bool = Field(True, validation_alias=AliasChoices("bias", "use_bias"))
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"
    in_channels: PositiveInt | None = None


class ConvTransposeParams(LayerParams):
    out_channels: PositiveInt = Field(validation_alias=AliasChoices("out_channels", "filters"))
    kernel_size: IntOrTuple
    stride: IntOrTuple = Field(1, validation_alias=AliasChoices("stride", "strides"))
    padding: PadOrTuple = 0
    output_padding: PadOrTuple = 0
    dilation: IntOrTuple = Field(1, validation_alias=AliasChoices("dilation", "dilation_rate"))
    groups: PositiveInt = 1
    bias: bool = Field(True, validation_alias=AliasChoices("bias", "use_bias"))
    in_channels: PositiveInt | None = None


def _compact(t: tuple[int, ...]) -> int | tuple[int, ...]:
    """Write (3, 3) as 3, the way people write PyTorch."""
    return t[0] if len(set(t)) == 1 else t


def _channels(p: Any, x: TensorType, name: str) -> int:
    c = check_given(p.in_channels, x.shape[1], "in_channels", x, 1, "channels")
    for what, n in (("in_channels", c), ("out_channels", p.out_channels)):
        if n % p.groups:
            raise SpecError("S004", f"{name}: {what}={n} is not divisible by groups={p.groups}",
                            f"use groups that divide both {c} and {p.out_channels} "
                            f"(e.g. {math.gcd(c, p.out_channels)})", field="groups")
    return c


class _ConvBase(LayerKind):
    rank: int

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if hasattr(cls, "rank"):
            cls.ranks = (cls.rank + 2,)
            cls.layout = "(N, C, " + ", ".join("DHW"[3 - cls.rank:]) + ")" if cls.rank > 1 else "(N, C, L)"


class _Conv(_ConvBase):
    Params = ConvParams
    positional = ("in_channels", "out_channels", "kernel_size")
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True, "padding_mode": "zeros"}

    def infer(self, p: ConvParams, ins: list[TensorType]) -> LayerResult:
        x, r = ins[0], self.rank
        c = _channels(p, x, self.type_name)
        k = ntuple(p.kernel_size, r, "kernel_size")
        s = ntuple(p.stride, r, "stride")
        d = ntuple(p.dilation, r, "dilation")
        if p.padding == "same":
            if any(v != 1 for v in s):
                raise SpecError("V003", "padding='same' is not supported for strided convolutions (PyTorch)",
                                f"use padding: {tuple((di * (ki - 1)) // 2 for ki, di in zip(k, d))} with stride",
                                field="padding")
            pads = tuple((di * (ki - 1)) // 2 for ki, di in zip(k, d))
            spatial = tuple(x.shape[2:])
        else:
            pads = (0,) * r if p.padding == "valid" else ntuple(p.padding, r, "padding")
            spatial = tuple(
                positive(conv_out(L, ki, si, pi, di), f"{self.type_name} output size along spatial dim {i}",
                         f" (input {L}, kernel {ki}, stride {si}, padding {pi}, dilation {di})")
                for i, (L, ki, si, pi, di) in enumerate(zip(x.shape[2:], k, s, pads, d)))
        out = TensorType((x.shape[0], p.out_channels, *spatial), x.dtype)
        per_position = (c // p.groups) * math.prod(k)
        params = p.out_channels * per_position + (p.out_channels if p.bias else 0)
        args = {"in_channels": c, "out_channels": p.out_channels, "kernel_size": _compact(k),
                "stride": _compact(s), "padding": p.padding if isinstance(p.padding, str) else _compact(pads),
                "dilation": _compact(d), "groups": p.groups, "bias": p.bias, "padding_mode": p.padding_mode}
        return LayerResult(out, args, params, mul(product(spatial), p.out_channels * per_position))


class _ConvTranspose(_ConvBase):
    Params = ConvTransposeParams
    positional = ("in_channels", "out_channels", "kernel_size")
    defaults = {"stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "bias": True, "dilation": 1}

    def infer(self, p: ConvTransposeParams, ins: list[TensorType]) -> LayerResult:
        x, r = ins[0], self.rank
        c = _channels(p, x, self.type_name)
        k = ntuple(p.kernel_size, r, "kernel_size")
        s = ntuple(p.stride, r, "stride")
        d = ntuple(p.dilation, r, "dilation")
        pads = ntuple(p.padding, r, "padding")
        ops = ntuple(p.output_padding, r, "output_padding")
        for op, si, di in zip(ops, s, d):
            if op >= max(si, di):
                raise SpecError("V003", f"output_padding={op} must be smaller than stride or dilation",
                                f"use output_padding < {max(si, di)}", field="output_padding")
        spatial = tuple(
            positive(conv_transpose_out(L, ki, si, pi, di, oi), f"{self.type_name} output size along dim {i}")
            for i, (L, ki, si, pi, di, oi) in enumerate(zip(x.shape[2:], k, s, pads, d, ops)))
        out = TensorType((x.shape[0], p.out_channels, *spatial), x.dtype)
        per_position = (p.out_channels // p.groups) * math.prod(k)
        params = c * per_position + (p.out_channels if p.bias else 0)
        args = {"in_channels": c, "out_channels": p.out_channels, "kernel_size": _compact(k),
                "stride": _compact(s), "padding": _compact(pads), "output_padding": _compact(ops),
                "groups": p.groups, "bias": p.bias, "dilation": _compact(d)}
        # Each input position scatters into kernel-many outputs.
        return LayerResult(out, args, params, mul(product(x.shape[2:]), c * per_position))


@register
class Conv1d(_Conv):
    type_name, rank, aliases, torch_class = "Conv1d", 1, ("Conv1D",), "nn.Conv1d"
    summary = "1-D convolution over (N, C, L)"


@register
class Conv2d(_Conv):
    type_name, rank, aliases, torch_class = "Conv2d", 2, ("Conv2D",), "nn.Conv2d"
    summary = "2-D convolution over (N, C, H, W)"


@register
class Conv3d(_Conv):
    type_name, rank, aliases, torch_class = "Conv3d", 3, ("Conv3D",), "nn.Conv3d"
    summary = "3-D convolution over (N, C, D, H, W)"


@register
class ConvTranspose1d(_ConvTranspose):
    type_name, rank, aliases, torch_class = "ConvTranspose1d", 1, ("Conv1DTranspose",), "nn.ConvTranspose1d"
    summary = "1-D transposed convolution (upsampling)"


@register
class ConvTranspose2d(_ConvTranspose):
    type_name, rank, aliases, torch_class = "ConvTranspose2d", 2, ("Conv2DTranspose",), "nn.ConvTranspose2d"
    summary = "2-D transposed convolution (upsampling)"


@register
class ConvTranspose3d(_ConvTranspose):
    type_name, rank, aliases, torch_class = "ConvTranspose3d", 3, ("Conv3DTranspose",), "nn.ConvTranspose3d"
    summary = "3-D transposed convolution (upsampling)"
