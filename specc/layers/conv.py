"""Convolutions: Conv1d/2d/3d, ConvTranspose1d/2d/3d, and the depthwise and separable convs of
the mobile nets (Keras DepthwiseConv2D / SeparableConv2D), one base class for every rank.

A depthwise conv is PyTorch's ``nn.Conv2d(C, C·m, k, groups=C)`` with C taken from the input;
a separable conv is that depthwise conv (no bias) followed by a 1x1 pointwise conv to
``out_channels``, as Keras builds it.  Both reuse the plain conv's shape rule, so their
sizes, errors and counts are the plain conv's by construction.
"""

import math
from typing import Any, Literal

from pydantic import AliasChoices, Field, NonNegativeInt, PositiveInt, model_validator

from ..diagnostics import SpecError, yaml_flow
from ..shapes.dims import DimLike, mul, product
from ..shapes.formulas import conv_out, conv_transpose_out, divisors, min_conv_input, same_padding
from ..shapes.tensor import TensorType
from .base import (
    LayerKind,
    LayerParams,
    LayerResult,
    Requirement,
    channels_last_permute,
    check_given,
    ntuple,
    register,
    sizes,
)
from .reparam import MaskType, SpectralNorm, WeightNorm, WeightStandardization, reparam

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
    weight_norm: WeightNorm = False
    spectral_norm: SpectralNorm = False
    weight_standardization: WeightStandardization = False
    mask: MaskType | None = Field(None, description="PixelCNN's masked convolution: A hides the kernel's centre "
                                  "and the taps after it in raster order (the first layer), B only those after it")

    @model_validator(mode="before")
    @classmethod
    def _causal(cls, data: Any) -> Any:
        # Keras' Conv1D(padding="causal"): zeros before the first step only, which no PyTorch padding
        # argument writes; what does is a pad layer ahead of the conv
        if not isinstance(data, dict) or data.get("padding") != "causal":
            return data
        k, d = data.get("kernel_size"), data.get("dilation", data.get("dilation_rate", 1))
        k = k[0] if isinstance(k, (list, tuple)) and k else k
        d = d[0] if isinstance(d, (list, tuple)) and d else d
        if not (isinstance(k, int) and isinstance(d, int) and k >= 1 and d >= 1):
            return data  # the field's own check says what is wrong with them
        raise ValueError(f"padding 'causal' (Keras' Conv1D) pads (kernel_size - 1) x dilation = {(k - 1) * d} zeros "
                         "before the first step and none after it, which PyTorch's padding cannot write; write "
                         f"padding: 0 and add - {{type: ZeroPad1d, padding: [{(k - 1) * d}, 0]}} before this layer")


class ConvTransposeParams(LayerParams):
    out_channels: PositiveInt = Field(validation_alias=AliasChoices("out_channels", "filters"))
    kernel_size: IntOrTuple
    stride: IntOrTuple = Field(1, validation_alias=AliasChoices("stride", "strides"))
    # 'valid' is 0; 'same' (Keras') is refused in infer with the padding and output_padding that do it
    padding: PadOrTuple | Literal["same", "valid"] = 0
    output_padding: PadOrTuple = 0
    dilation: IntOrTuple = Field(1, validation_alias=AliasChoices("dilation", "dilation_rate"))
    groups: PositiveInt = 1
    bias: bool = Field(True, validation_alias=AliasChoices("bias", "use_bias"))
    in_channels: PositiveInt | None = None
    weight_norm: WeightNorm = False
    spectral_norm: SpectralNorm = False


def compact(t: tuple[int, ...]) -> int | tuple[int, ...]:
    """Write (3, 3) as 3, the way people write PyTorch."""
    return t[0] if len(set(t)) == 1 else t


def _channels(p: Any, x: TensorType, name: str) -> int:
    c = check_given(p.in_channels, x.shape[1], "in_channels", x, 1, "channels")
    for what, n in (("in_channels", c), ("out_channels", p.out_channels)):
        if n % p.groups:
            # A depthwise conv (MobileNet, EfficientNet) has groups = in_channels; say so by number.
            if what == "out_channels" and p.groups == c:
                # groups = in_channels: a depthwise conv, each channel given out_channels / groups filters
                lo, hi = max(c, n // c * c), (n // c + 1) * c
                hint = (f"set out_channels: {lo} (a multiple of groups: {c}, the depthwise conv's in_channels; "
                        f"{hi} gives each channel {hi // c} filters), or use groups that divide both {c} and {n} "
                        f"(e.g. {math.gcd(c, n)})")
            elif c == p.out_channels:
                near = max((g for g in divisors(c, p.groups) if g < min(p.groups, c)), default=1)
                hint = f"use groups that divide {c} (e.g. {c} for a depthwise conv{f', or {near}' if near < c else ''})"
            else:
                hint = (f"use groups that divide both {c} and {p.out_channels} (e.g. {math.gcd(c, p.out_channels)})"
                        + (f"; groups: {c} makes it depthwise" if p.out_channels % c == 0 else ""))
            raise SpecError("S004", f"{name}: {what}={n} is not divisible by groups={p.groups}", hint, field="groups")
    return c


def window_sizes(spatial: tuple[DimLike, ...], k: tuple[int, ...], s: tuple[int, ...], pads: tuple[int, ...],
                 d: tuple[int, ...], ceil_mode: bool = False, max_pad: tuple[int, ...] | None = None,
                 x: TensorType | None = None) -> tuple[DimLike, ...]:
    """Output sizes of a sliding window (conv or pool) along each spatial dim, checked positive.

    ``max_pad`` is the largest padding the layer allows (pools: half the kernel), so the
    hint only proposes a padding that would be accepted.  ``x``, the incoming tensor, lets the
    hint name the Permute where the window fails on the colours of a channels-last image.
    """
    out = tuple(conv_out(size, ki, si, pi, di, ceil_mode) for size, ki, si, pi, di in zip(spatial, k, s, pads, d))
    short = [i for i, (o, size) in enumerate(zip(out, spatial)) if isinstance(o, int) and isinstance(size, int)
             and o <= 0]
    if short:
        i = short[0]
        size, ki, si, pi, di = spatial[i], k[i], s[i], pads[i], d[i]
        need = min_conv_input(ki, si, pi, di, ceil_mode)
        # each dim that is too small gets its own fix and the others keep theirs: a (1, 8) window
        # on a 1-row map is fixed by (1, 4), not by a kernel of 4 rows; a square window stays square
        # (a smaller kernel or a larger padding fits every dim that fitted)
        kernels, paddings = list(k), list(pads)
        for j in short:
            size_j = int(spatial[j])  # type: ignore[arg-type]
            kernels[j] = (size_j + 2 * pads[j] - 1) // d[j] + 1 if size_j + 2 * pads[j] >= 1 else 0
            paddings[j] = -(-(d[j] * (k[j] - 1) + 1 - size_j) // 2)  # smallest padding with one full window
        if len(set(k)) == 1:
            kernels = [min(kernels[j] for j in short)] * len(k)
            if len(set(pads)) == 1:
                paddings = [max(paddings[j] for j in short)] * len(k)
        fixes = [f"kernel_size: {yaml_flow(compact(tuple(kernels)))}"] if min(kernels) >= 1 else []
        if max_pad is None or all(pj <= mj for pj, mj in zip(paddings, max_pad)):
            fixes.append(f"padding: {yaml_flow(compact(tuple(paddings)))}")
        hint = (f"this window needs an input of at least {need} there; use {' or '.join(fixes)}, "
                "or downsample less before this layer")
        dims = channels_last_permute(x) if x is not None and i == len(spatial) - 1 else None
        if dims is not None:
            # A kernel size or padding that "fits" the colours would slide over the wrong axes.
            hint = (f"{x} looks channels-last (its last dim, {size}, is the colours): add - {{type: Permute, "
                    f"dims: {dims}}} before this layer, or declare the input channels-first")
        raise SpecError("S002", f"output size along spatial dim {i} would be {out[i]} (input {size}, kernel {ki}, "
                        f"stride {si}, padding {pi}, dilation {di})", hint, field="kernel_size")
    return out


def _check_padding_mode(mode: str, spatial: tuple[DimLike, ...],
                        sides: tuple[tuple[int, int], ...]) -> list[Requirement]:
    """reflect pads by mirroring (needs pad < size); circular wraps around once at most (pad <= size).
    A symbolic size gets the same bound as a requirement."""
    needs: list[Requirement] = []
    if mode not in ("reflect", "circular"):
        return needs
    for i, (size, (left, right)) in enumerate(zip(spatial, sides)):
        pad = max(left, right)
        limit = size - 1 if mode == "reflect" else size
        if isinstance(size, int) and pad > limit:
            raise SpecError("S002", f"padding_mode '{mode}' cannot pad {pad} along spatial dim {i} of size {size}",
                            f"use padding of at most {limit} there, or padding_mode: zeros or replicate",
                            field="padding_mode")
        if pad and not isinstance(size, int):
            needs.append(Requirement(size, pad + 1 if mode == "reflect" else pad,
                                     f"padding_mode '{mode}' with padding {pad} along spatial dim {i}", "padding"))
    return needs


class Spatial(LayerKind):
    """A kind over (N, C, *spatial) with ``rank`` spatial dims: convs and pools of one rank."""

    rank: int

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if hasattr(cls, "rank"):
            cls.ranks = (cls.rank + 2,)
            cls.layout = "(N, C, " + ", ".join("DHW"[3 - cls.rank:]) + ")" if cls.rank > 1 else "(N, C, L)"


class _Conv(Spatial):
    Params = ConvParams

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        n_out = int(args["out_channels"])
        shape = (n_out, int(args["in_channels"]) // int(args["groups"]), *sizes(args["kernel_size"], self.rank))
        # ScaledStdConv's gain, after the conv's own as timm registers it (NFNet starts some at 0: init: {gain: zeros})
        scaled = args.get("weight_standardization", {}).get("gain")
        gain = {"gain": (n_out,) + (1,) * (len(shape) - 1)} if scaled else {}
        return {"weight": shape, **({"bias": (n_out,)} if args["bias"] else {}), **gain}

    def infer(self, p: ConvParams, ins: list[TensorType]) -> LayerResult:
        x, r = ins[0], self.rank
        c = _channels(p, x, self.type_name)
        k = ntuple(p.kernel_size, r, "kernel_size")
        s = ntuple(p.stride, r, "stride")
        d = ntuple(p.dilation, r, "dilation")
        in_spatial = tuple(x.shape[2:])
        if p.padding == "same":
            # PyTorch puts the odd pixel of an even kernel on the right.
            sides = tuple(same_padding(ki, di) for ki, di in zip(k, d))
            if any(v != 1 for v in s):
                raise SpecError("V003", "padding='same' is not supported for strided convolutions (PyTorch)",
                                f"write padding: {compact(tuple(left for left, _ in sides))}: with stride "
                                f"{compact(s)} the output is then the input's size / stride, rounded up, as Keras' "
                                "'same' gives" + ("" if all(ki % 2 for ki in k) else " (for an odd size, one less "
                                                  "with an even kernel)"),
                                field="padding")
            spatial = in_spatial
        else:
            pads = (0,) * r if p.padding == "valid" else ntuple(p.padding, r, "padding")
            sides = tuple((pi, pi) for pi in pads)
            spatial = window_sizes(in_spatial, k, s, pads, d, x=x)
        needs = _check_padding_mode(p.padding_mode, in_spatial, sides)
        out = TensorType((x.shape[0], p.out_channels, *spatial), x.dtype)
        per_position = (c // p.groups) * math.prod(k)
        params = p.out_channels * per_position + (p.out_channels if p.bias else 0)
        padding = p.padding if isinstance(p.padding, str) else compact(tuple(left for left, _ in sides))
        args = {"in_channels": c, "out_channels": p.out_channels, "kernel_size": compact(k),
                "stride": compact(s), "padding": padding, "dilation": compact(d), "groups": p.groups,
                "bias": p.bias, "padding_mode": p.padding_mode}
        norm, more, buffers = reparam(p, (p.out_channels, c // p.groups, *k), 0)
        # One multiply-add per weight per output position (torchinfo/fvcore convention).
        return LayerResult(out, args | norm, params + more, mul(product(spatial), p.out_channels * per_position),
                           buffers, requires=needs)


def _same_transposed(k: tuple[int, ...], s: tuple[int, ...], d: tuple[int, ...]) -> str:
    """The padding and output_padding that make a transposed conv's output stride × its input, what
    Keras' padding='same' gives: (in - 1)·s - 2p + d·(k - 1) + 1 + op = in·s, so 2p - op = d·(k - 1) + 1 - s."""
    pads, ops = [], []
    for ki, si, di in zip(k, s, d):
        excess = di * (ki - 1) + 1 - si
        pi = max(0, -(-excess // 2))
        pads.append(pi)
        ops.append(2 * pi - excess)
    if any(op >= max(si, di) for op, si, di in zip(ops, s, d)):  # an even kernel at stride 1: no exact fit
        return "use an odd kernel_size with padding: (kernel_size - 1) // 2 to keep the size at stride 1"
    return (f"for an output of stride × the input (Keras' padding='same'), write padding: {compact(tuple(pads))}, "
            f"output_padding: {compact(tuple(ops))}")


class _ConvTranspose(Spatial):
    Params = ConvTransposeParams

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        n_out = int(args["out_channels"])
        shape = (int(args["in_channels"]), n_out // int(args["groups"]), *sizes(args["kernel_size"], self.rank))
        return {"weight": shape, **({"bias": (n_out,)} if args["bias"] else {})}

    def infer(self, p: ConvTransposeParams, ins: list[TensorType]) -> LayerResult:
        x, r = ins[0], self.rank
        c = _channels(p, x, self.type_name)
        k = ntuple(p.kernel_size, r, "kernel_size")
        s = ntuple(p.stride, r, "stride")
        d = ntuple(p.dilation, r, "dilation")
        if p.padding == "same":
            raise SpecError("V003", "PyTorch's transposed convolutions have no padding 'same'",
                            _same_transposed(k, s, d), field="padding")
        pads = (0,) * r if p.padding == "valid" else ntuple(p.padding, r, "padding")
        ops = ntuple(p.output_padding, r, "output_padding")
        for op, si, di in zip(ops, s, d):
            if op >= max(si, di):
                raise SpecError("V003", f"output_padding={op} must be smaller than stride or dilation",
                                f"use output_padding < {max(si, di)}" if max(si, di) > 1 else
                                "use output_padding: 0 (at stride and dilation 1 there is nothing to add)",
                                field="output_padding")
        spatial = []
        for i, (size, ki, si, pi, di, oi) in enumerate(zip(x.shape[2:], k, s, pads, d, ops)):
            o = conv_transpose_out(size, ki, si, pi, di, oi)
            if isinstance(o, int) and isinstance(size, int) and o <= 0:
                most = ((size - 1) * si + di * (ki - 1) + oi) // 2
                raise SpecError("S002", f"output size along spatial dim {i} would be {o} (input {size}, kernel "
                                f"{ki}, stride {si}, padding {pi}, dilation {di})",
                                f"padding crops too much here; use padding: {most} or less", field="padding")
            spatial.append(o)
        out = TensorType((x.shape[0], p.out_channels, *spatial), x.dtype)
        per_position = (p.out_channels // p.groups) * math.prod(k)
        params = c * per_position + (p.out_channels if p.bias else 0)
        args = {"in_channels": c, "out_channels": p.out_channels, "kernel_size": compact(k),
                "stride": compact(s), "padding": compact(pads), "output_padding": compact(ops),
                "groups": p.groups, "bias": p.bias, "dilation": compact(d)}
        norm, more, buffers = reparam(p, (c, p.out_channels // p.groups, *k), 1)
        # Each input position scatters into kernel-many outputs.
        return LayerResult(out, args | norm, params + more, mul(product(x.shape[2:]), c * per_position), buffers)


@register
class Conv1d(_Conv):
    type_name, rank, aliases = "Conv1d", 1, ("Conv1D",)
    summary = "1-D convolution over (N, C, L)"


@register
class Conv2d(_Conv):
    type_name, rank, aliases = "Conv2d", 2, ("Conv2D",)
    summary = "2-D convolution over (N, C, H, W)"


@register
class Conv3d(_Conv):
    type_name, rank, aliases = "Conv3d", 3, ("Conv3D",)
    summary = "3-D convolution over (N, C, D, H, W)"


@register
class ConvTranspose1d(_ConvTranspose):
    type_name, rank, aliases = "ConvTranspose1d", 1, ("Conv1DTranspose",)
    summary = "1-D transposed convolution (upsampling)"


@register
class ConvTranspose2d(_ConvTranspose):
    type_name, rank, aliases = "ConvTranspose2d", 2, ("Conv2DTranspose",)
    summary = "2-D transposed convolution (upsampling)"


@register
class ConvTranspose3d(_ConvTranspose):
    type_name, rank, aliases = "ConvTranspose3d", 3, ("Conv3DTranspose",)
    summary = "3-D transposed convolution (upsampling)"


# -- depthwise and separable -------------------------------------------------------------------------

class DepthwiseConvParams(LayerParams):
    kernel_size: IntOrTuple
    depth_multiplier: PositiveInt = 1
    out_channels: PositiveInt | None = None  # in_channels·depth_multiplier; checked when given
    stride: IntOrTuple = Field(1, validation_alias=AliasChoices("stride", "strides"))
    padding: PadOrTuple | Literal["same", "valid"] = 0
    dilation: IntOrTuple = Field(1, validation_alias=AliasChoices("dilation", "dilation_rate"))
    bias: bool = Field(True, validation_alias=AliasChoices("bias", "use_bias"))
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"
    in_channels: PositiveInt | None = None
    weight_norm: WeightNorm = False
    spectral_norm: SpectralNorm = False


class SeparableConvParams(LayerParams):
    out_channels: PositiveInt = Field(validation_alias=AliasChoices("out_channels", "filters"))
    kernel_size: IntOrTuple
    depth_multiplier: PositiveInt = 1
    stride: IntOrTuple = Field(1, validation_alias=AliasChoices("stride", "strides"))
    padding: PadOrTuple | Literal["same", "valid"] = 0
    dilation: IntOrTuple = Field(1, validation_alias=AliasChoices("dilation", "dilation_rate"))
    bias: bool = Field(True, validation_alias=AliasChoices("bias", "use_bias"))  # the pointwise conv's
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"
    in_channels: PositiveInt | None = None


def _multiplier(p: DepthwiseConvParams, c: int) -> int:
    """depth_multiplier, or out_channels / in_channels when out_channels is what was written."""
    if p.out_channels is None:
        return p.depth_multiplier
    m = p.out_channels // c
    if p.out_channels % c:
        fits = " or ".join(str(c * k) for k in sorted({max(1, m), m + 1}))
        raise SpecError("S004", f"out_channels {p.out_channels} of a depthwise conv is not a multiple of its {c} "
                        "input channels: each channel gets depth_multiplier filters of its own",
                        f"use out_channels: {fits}, or leave it out and set depth_multiplier", field="out_channels")
    if "depth_multiplier" in p.model_fields_set and m != p.depth_multiplier:
        raise SpecError("S001", f"out_channels {p.out_channels} is not in_channels {c} · depth_multiplier "
                        f"{p.depth_multiplier} = {c * p.depth_multiplier}",
                        f"give one of them: depth_multiplier: {m}, or out_channels: {c * p.depth_multiplier}",
                        field="out_channels")
    return m


def _depthwise(conv: _Conv, p: DepthwiseConvParams | SeparableConvParams, x: TensorType,
               bias: bool) -> LayerResult:
    """The plain conv of ``conv``'s rank with groups = in_channels (inferred from ``x``)."""
    c = check_given(p.in_channels, x.shape[1], "in_channels", x, 1, "channels")
    m = _multiplier(p, c) if isinstance(p, DepthwiseConvParams) else p.depth_multiplier
    full = ConvParams(out_channels=c * m, kernel_size=p.kernel_size, stride=p.stride,
                      padding=p.padding, dilation=p.dilation, groups=c, bias=bias, padding_mode=p.padding_mode,
                      in_channels=c, weight_norm=getattr(p, "weight_norm", False),
                      spectral_norm=getattr(p, "spectral_norm", False))
    return conv.infer(full, [x])


class _DepthwiseConv(Spatial):
    """One k-wide filter per input channel (depth_multiplier of them), channels never mixed."""

    Params = DepthwiseConvParams
    conv: _Conv

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        n_out = int(args["out_channels"])
        bias = {"bias": (n_out,)} if args["bias"] else {}
        return {"weight": (n_out, 1, *sizes(args["kernel_size"], self.rank)), **bias}

    def infer(self, p: DepthwiseConvParams, ins: list[TensorType]) -> LayerResult:
        return _depthwise(self.conv, p, ins[0], p.bias)


class _SeparableConv(Spatial):
    Params = SeparableConvParams
    conv: _Conv

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        mid, n_out = int(args["in_channels"]) * int(args["depth_multiplier"]), int(args["out_channels"])
        return {"depthwise.weight": (mid, 1, *sizes(args["kernel_size"], self.rank)),
                "pointwise.weight": (n_out, mid, *(1,) * self.rank),
                **({"pointwise.bias": (n_out,)} if args["bias"] else {})}

    def infer(self, p: SeparableConvParams, ins: list[TensorType]) -> LayerResult:
        dw = _depthwise(self.conv, p, ins[0], bias=False)
        a = dw.args
        mid, spatial = a["out_channels"], dw.out.shape[2:]
        out = TensorType((ins[0].shape[0], p.out_channels, *spatial), ins[0].dtype)
        params = dw.params + mid * p.out_channels + (p.out_channels if p.bias else 0)
        macs = dw.macs + mul(product(spatial), mid * p.out_channels)
        args = {"in_channels": a["in_channels"], "out_channels": p.out_channels, "kernel_size": a["kernel_size"],
                "stride": a["stride"], "padding": a["padding"], "dilation": a["dilation"],
                "depth_multiplier": p.depth_multiplier, "bias": p.bias, "padding_mode": p.padding_mode}
        return LayerResult(out, args, params, macs)


@register
class DepthwiseConv1d(_DepthwiseConv):
    type_name, rank, aliases = "DepthwiseConv1d", 1, ("DepthwiseConv1D",)
    conv = Conv1d()
    summary = "depthwise 1-D conv: groups = in_channels, out_channels = in_channels·depth_multiplier"


@register
class DepthwiseConv2d(_DepthwiseConv):
    type_name, rank, aliases = "DepthwiseConv2d", 2, ("DepthwiseConv2D",)
    conv = Conv2d()
    summary = "depthwise 2-D conv (MobileNet): groups = in_channels, out_channels = in_channels·depth_multiplier"


@register
class SeparableConv1d(_SeparableConv):
    type_name, rank, aliases = "SeparableConv1d", 1, ("SeparableConv1D",)
    conv = Conv1d()
    summary = "depthwise 1-D conv (no bias) then a 1x1 pointwise conv to out_channels (Keras SeparableConv1D)"


@register
class SeparableConv2d(_SeparableConv):
    type_name, rank, aliases = "SeparableConv2d", 2, ("SeparableConv2D",)
    conv = Conv2d()
    summary = "depthwise 2-D conv (no bias) then a 1x1 pointwise conv to out_channels (Keras SeparableConv2D)"
