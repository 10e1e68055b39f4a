"""Normalisation: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm, RMSNorm, Normalize, and
LayerScale, the learned per-channel factor that follows a normalised residual branch.

Sizes PyTorch's constructors need (``num_features``, ``num_channels``,
``normalized_shape``) are inferred from the input when omitted and checked when given.

MACs per sample follow fvcore at inference: BatchNorm folds its statistics into one
scale and shift, 1 op per element (2 with affine); Layer/Group/InstanceNorm compute
statistics on every call, 4 ops per element (5 with affine).
"""

import math
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, PositiveFloat, PositiveInt

from ..diagnostics import SpecError
from ..shapes.dims import DimLike, mul, product
from ..shapes.formulas import divisors
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, Requirement, axis, check_given, register, require, sizes, static

Momentum = Annotated[float, Field(ge=0.0, le=1.0)] | None


class BatchNormParams(LayerParams):
    num_features: PositiveInt | None = None
    eps: PositiveFloat = Field(1e-5, validation_alias=AliasChoices("eps", "epsilon"))
    momentum: Momentum = 0.1
    affine: bool = True
    track_running_stats: bool = True


class InstanceNormParams(BatchNormParams):
    affine: bool = False
    track_running_stats: bool = False


class LayerNormParams(LayerParams):
    normalized_shape: PositiveInt | tuple[PositiveInt, ...] | None = None
    eps: PositiveFloat = Field(1e-5, validation_alias=AliasChoices("eps", "epsilon"))
    elementwise_affine: bool = True
    bias: bool = True


class GroupNormParams(LayerParams):
    num_groups: PositiveInt = Field(validation_alias=AliasChoices("num_groups", "groups"))
    num_channels: PositiveInt | None = None
    eps: PositiveFloat = Field(1e-5, validation_alias=AliasChoices("eps", "epsilon"))
    affine: bool = True


def _same(x: TensorType) -> TensorType:
    return TensorType(x.shape, x.dtype, x.notes)


class _ChannelNorm(LayerKind):
    """BatchNorm and InstanceNorm: one (weight, bias) pair and running stats per channel."""

    Params = BatchNormParams
    ops_per_element = (1, 2)  # (plain, affine)

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        c = (int(args["num_features"]),)
        return {"weight": c, "bias": c} if args["affine"] else {}
    instance = False

    def infer(self, p: BatchNormParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        c = check_given(p.num_features, x.shape[1], "num_features", x, 1, "channels")
        args = {"num_features": c, "eps": p.eps, "momentum": p.momentum, "affine": p.affine,
                "track_running_stats": p.track_running_stats}
        # running_mean and running_var per channel, plus the num_batches_tracked counter.
        buffers = 2 * c + 1 if p.track_running_stats else 0
        macs = mul(product(x.shape[1:]), self.ops_per_element[p.affine])
        needs = []
        if self.instance:
            # statistics over one element per channel are undefined: PyTorch refuses them when
            # training, and in eval too unless running statistics are tracked
            spatial = product(x.shape[2:])
            if isinstance(spatial, int) and spatial < 2:
                raise SpecError("S002", f"normalises each channel over its {spatial} spatial element, but statistics "
                                f"of one element are undefined (PyTorch refuses them) in {x}",
                                "normalise before the spatial size shrinks to 1, or use a LayerNorm/BatchNorm there")
            needs = require(spatial, 2, "per-channel statistics over the spatial elements")
        elif not p.track_running_stats:
            needs = _batch_statistics(x)
        return LayerResult(_same(x), args, 2 * c if p.affine else 0, macs, buffers, requires=needs)


def _batch_statistics(x: TensorType) -> list[Requirement]:
    """Without running statistics BatchNorm normalises with the batch's own, in eval too, and
    PyTorch refuses a channel of one value: the batch times the spatial elements must be 2 or
    more at every size, the batch free (a single sample included)."""
    spatial = product(x.shape[2:])
    if isinstance(x.shape[0], int):
        return require(mul(x.shape[0], spatial), 2, "batch statistics per channel (track_running_stats: false)",
                       "track_running_stats")
    if isinstance(spatial, int) and spatial < 2:
        raise SpecError("U001", f"with track_running_stats: false it normalises with the statistics of each batch, "
                        f"at inference too, which needs 2 or more values per channel, and the input {x} has "
                        f"{spatial} per sample: a batch of 1 fails",
                        "set track_running_stats: true (the default) to normalise with running statistics at "
                        "inference, or use a LayerNorm or GroupNorm", field="track_running_stats")
    return require(spatial, 2, "batch statistics per channel over the spatial elements (track_running_stats: "
                   "false; the batch may be 1)", "track_running_stats")


class _InstanceNorm(_ChannelNorm):
    """Statistics per sample and channel, over the spatial elements only."""

    Params = InstanceNormParams
    ops_per_element = (4, 5)
    instance = True


@register
class BatchNorm1d(_ChannelNorm):
    type_name, ranks, layout = "BatchNorm1d", (2, 3), "(N, C) or (N, C, L)"
    summary = "batch norm over (N, C) or (N, C, L)"


@register
class BatchNorm2d(_ChannelNorm):
    type_name, ranks, layout = "BatchNorm2d", (4,), "(N, C, H, W)"
    summary = "batch norm over (N, C, H, W)"


@register
class BatchNorm3d(_ChannelNorm):
    type_name, ranks, layout = "BatchNorm3d", (5,), "(N, C, D, H, W)"
    summary = "batch norm over (N, C, D, H, W)"


@register
class InstanceNorm1d(_InstanceNorm):
    type_name, ranks, layout = "InstanceNorm1d", (3,), "(N, C, L)"
    summary = "per-sample, per-channel norm of (N, C, L)"


@register
class InstanceNorm2d(_InstanceNorm):
    type_name, ranks, layout = "InstanceNorm2d", (4,), "(N, C, H, W)"
    summary = "per-sample, per-channel norm of (N, C, H, W)"


@register
class InstanceNorm3d(_InstanceNorm):
    type_name, ranks, layout = "InstanceNorm3d", (5,), "(N, C, D, H, W)"
    summary = "per-sample, per-channel norm of (N, C, D, H, W)"


def _feature_map_hint(kind: str, want: tuple[int, ...] | None, x: TensorType) -> str:
    """How to normalise a (N, C, *spatial) map the way ``want``, which starts with its channel
    count, means; "" when ``want`` is not about the channels."""
    if want is None or x.rank < 3 or want[0] != x.shape[1]:
        return ""
    if len(want) == 1:  # "LayerNorm of 8" after a conv: the channels at every position
        return (f"to normalise over the {want[0]} channels of {x}, put a Permute to channels-last before the "
                f"{kind} and one back after it (as ConvNeXt does), or take a GroupNorm of one group instead "
                "(channels and positions together)")
    if len(want) == x.rank - 1:  # [C, H, W]: each sample over its whole map (the WGAN-GP critic's norm)
        return (f"to normalise each sample over all of {x} at any size, write "
                "- {type: GroupNorm, num_groups: 1} in its place "
                "(the same statistics; its scale and shift are per channel, not per element)")
    return ""


def _trailing(kind: str, given: int | tuple[int, ...] | None,
              x: TensorType) -> tuple[tuple[int, ...], int | tuple[int, ...]]:
    """The trailing sizes a LayerNorm or RMSNorm normalises over (``given``: normalized_shape as
    written, None for the last dim), checked against ``x``; and normalized_shape as PyTorch takes it."""
    want = (given,) if isinstance(given, int) else tuple(given) if given is not None else None
    if want == ():
        raise SpecError("V003", f"normalized_shape is empty: {kind} needs at least one dim to normalise over",
                        "omit normalized_shape to normalise over the last dim, or list the trailing sizes",
                        field="normalized_shape")
    n = len(want) if want is not None else 1
    if n > x.rank - 1:
        raise SpecError("S003", f"normalized_shape {list(want or ())} has {n} dims but the input {x} has only "
                        f"{x.rank - 1} besides the batch dim",
                        f"normalise over at most the last {x.rank - 1} dims", field="normalized_shape")
    try:
        actual = tuple(static(d, f"normalized_shape (the trailing dims {kind} normalises)", "normalized_shape")
                       for d in x.shape[x.rank - n:])
    except SpecError as exc:
        # a feature map of any size: what was meant is its channels, or all of (C, *spatial)
        meant = _feature_map_hint(kind, want, x)
        if meant:
            exc.hint = f"{meant}; else {exc.hint}"
        raise
    if want is not None and want != actual:
        fix = actual[0] if isinstance(given, int) else list(actual)
        wrote = given if isinstance(given, int) else list(want)
        found = f"last dim is {actual[0]}" if n == 1 else f"last {n} dims are {list(actual)}"
        channels = _feature_map_hint(kind, want, x) if n == 1 else ""
        # a conv's channel count written where its map's width is last: the last dim is not what was
        # meant, so "set normalized_shape: W" is no fix there
        hint = (f"{channels}; normalized_shape: {fix} would normalise over the map's {fix} "
                f"{'columns' if x.rank >= 4 else 'positions'} instead"
                if channels else f"set normalized_shape: {fix}, or omit it to normalise over the last dim")
        raise SpecError("S001", f"normalized_shape is {wrote} but the incoming tensor {x}'s {found}", hint,
                        field="normalized_shape")
    return actual, (actual[0] if want is None or isinstance(given, int) else actual)


@register
class LayerNorm(LayerKind):
    type_name, Params = "LayerNorm", LayerNormParams
    summary = "normalise over the trailing dims (normalized_shape; default the last dim)"

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        shape = sizes(args["normalized_shape"], 1)
        if not args["elementwise_affine"]:
            return {}
        return {"weight": shape, **({"bias": shape} if args["bias"] else {})}

    def infer(self, p: LayerNormParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        actual, shape_arg = _trailing(self.type_name, p.normalized_shape, x)
        size = math.prod(actual)
        params = (size + (size if p.bias else 0)) if p.elementwise_affine else 0
        args = {"normalized_shape": shape_arg, "eps": p.eps, "elementwise_affine": p.elementwise_affine,
                "bias": p.bias}
        return LayerResult(_same(x), args, params, mul(product(x.shape[1:]), 5 if p.elementwise_affine else 4))


class RMSNormParams(LayerParams):
    normalized_shape: PositiveInt | tuple[PositiveInt, ...] | None = None
    eps: PositiveFloat | None = Field(None, validation_alias=AliasChoices("eps", "epsilon"),
                                      description="null: the float type's machine epsilon, as PyTorch")
    elementwise_affine: bool = True
    # Gemma's scale: 1 + weight, the weight starting at 0 (Google's gemma_pytorch RMSNorm(add_unit_offset=True))
    add_unit_offset: bool = False


@register
class RMSNorm(LayerKind):
    """x / sqrt(mean(x²) + eps) · weight over the trailing dims (Zhang & Sennrich 2019; the norm
    of T5, LLaMA and Gemma): no mean subtracted, no bias.  ``add_unit_offset``: times 1 + weight,
    Gemma's, whose checkpoints store the weight that way."""

    type_name, Params = "RMSNorm", RMSNormParams
    summary = "x / sqrt(mean(x²) + eps) · weight over the trailing dims (T5, LLaMA); no mean, no bias"

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        return {"weight": sizes(args["normalized_shape"], 1)} if args["elementwise_affine"] else {}

    def infer(self, p: RMSNormParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        actual, shape_arg = _trailing(self.type_name, p.normalized_shape, x)
        if p.add_unit_offset and not p.elementwise_affine:
            raise SpecError("V133", "add_unit_offset: true scales by 1 + weight, but elementwise_affine: false "
                            "gives the norm no weight", "set elementwise_affine: true (Gemma's learned scale), or "
                            "drop add_unit_offset", field="add_unit_offset")
        params = math.prod(actual) if p.elementwise_affine else 0
        args = {"normalized_shape": shape_arg, "eps": p.eps, "elementwise_affine": p.elementwise_affine,
                "add_unit_offset": p.add_unit_offset}
        return LayerResult(_same(x), args, params, mul(product(x.shape[1:]), 4 if p.elementwise_affine else 3))


@register
class GroupNorm(LayerKind):
    type_name, Params = "GroupNorm", GroupNormParams
    summary = "normalise groups of channels per sample (num_groups must divide the channels)"
    layout = "(N, C, *)"

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        c = (int(args["num_channels"]),)
        return {"weight": c, "bias": c} if args["affine"] else {}

    def infer(self, p: GroupNormParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if x.rank < 2:
            raise SpecError("S003", f"GroupNorm needs (N, C, *), got {x}", "add a channel dim (Unsqueeze or Reshape)")
        c = check_given(p.num_channels, x.shape[1], "num_channels", x, 1, "channels")
        if c % p.num_groups:
            valid = divisors(c, p.num_groups)
            nearest = min(valid, key=lambda g: (abs(g - p.num_groups), -g))
            shown = ", ".join(str(g) for g in valid) if len(valid) <= 16 else \
                ", ".join(str(g) for g in sorted(sorted(valid, key=lambda g: abs(g - p.num_groups))[:8])) + ", …"
            raise SpecError("S004", f"num_channels={c} is not divisible by num_groups={p.num_groups}",
                            f"use num_groups: {nearest} (a divisor of {c}: {shown})", field="num_groups")
        args = {"num_groups": p.num_groups, "num_channels": c, "eps": p.eps, "affine": p.affine}
        return LayerResult(_same(x), args, 2 * c if p.affine else 0,
                           mul(product(x.shape[1:]), 5 if p.affine else 4),
                           requires=_group_statistics(x, mul(c // p.num_groups, product(x.shape[2:]))))


def _group_statistics(x: TensorType, per_group: DimLike) -> list[Requirement]:
    """PyTorch's group_norm checks its input as a batch norm's (in eval too): the batch times the
    values of a group must be 2 or more, so groups of one value each fail on a single sample (and
    normalise every other batch to the bias alone)."""
    if isinstance(x.shape[0], int):
        return require(mul(x.shape[0], per_group), 2, "statistics over each group's values in the batch")
    if isinstance(per_group, int) and per_group < 2:
        c = x.shape[1]
        fix = f"use num_groups: 1 (the {c} channels normalised together)" if isinstance(c, int) and c > 1 else \
            "normalise before the size shrinks to 1 value per sample, or remove the layer"
        raise SpecError("U001", f"each group holds 1 value of {x} per sample, and PyTorch refuses to normalise a "
                        "single value: a batch of 1 fails (any other batch gives the bias alone)", fix,
                        field="num_groups")
    return require(per_group, 2, "statistics over each group's values (the batch may be 1)")


class NormalizeParams(LayerParams):
    p: Literal[1, 2] = 2
    dim: int = 1
    eps: PositiveFloat = 1e-12


@register
class Normalize(LayerKind):
    """F.normalize: x / max(‖x‖_p, eps) along one dim, every vector of unit length (the L2
    normalisation of DINO's and SimCLR's heads, ArcFace and CLIP embeddings). No parameters."""

    type_name, Params = "Normalize", NormalizeParams
    form = "inline"
    summary = "x / max(‖x‖_p, eps) along dim (F.normalize): unit-length vectors (DINO, CLIP, ArcFace); p 1 or 2"

    def infer(self, p: NormalizeParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        axis(p.dim, x.rank)
        # |x|^p, the sum, the root and the division: about 3 per element
        return LayerResult(_same(x), {"p": p.p, "dim": p.dim, "eps": p.eps}, 0, mul(product(x.shape[1:]), 3))


class LayerScaleParams(LayerParams):
    num_features: PositiveInt | None = None
    # timm's LayerScale(init_values=1e-5); CaiT starts its deeper models at 1e-5 or 1e-6, ConvNeXt at 1e-6
    init_values: float = 1e-5
    dim: int = -1
    bias: bool = False


@register
class LayerScale(LayerKind):
    """x · gamma, one learned factor per channel along ``dim`` (Touvron et al. 2021, CaiT), started at
    ``init_values``: the layer scale of CaiT, DeiT-III, ConvNeXt and PoolFormer. ``dim: -1`` scales the
    features of tokens (timm's LayerScale, ``gamma`` of shape (C,)), ``dim: 1`` the channels of a map
    (torchvision ConvNeXt's (C, 1, 1) parameter). ``bias: true`` adds a learned shift ``beta``
    (started at 0): ResMLP's Affine, ``alpha·x + beta``, is ``{type: LayerScale, init_values: 1.0,
    bias: true}``. ``num_features: 1`` learns one factor for the whole tensor (FCOS's per-level Scale,
    ``{type: LayerScale, num_features: 1, init_values: 1.0}``; ReZero's alpha at 0). A spec once
    wrote the factor as a 1x1 depthwise conv without bias: the same C numbers, but a conv over a
    map's channels only, and started at PyTorch's conv default."""

    type_name, Params = "LayerScale", LayerScaleParams
    summary = ("x·gamma: a learned factor per channel along dim (default the last), started at init_values "
               "(CaiT, ConvNeXt); num_features: 1 is one factor for all (FCOS's Scale)")

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        c = (int(args["num_features"]),)
        return {"gamma": c, "beta": c} if args["bias"] else {"gamma": c}

    def infer(self, p: LayerScaleParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if x.rank < 2:
            raise SpecError("S003", f"LayerScale scales the channels of a sample, but its input {x} has only the "
                            "batch dim", "add a channel dim with - {type: Unsqueeze, dim: 1} before it")
        d = axis(p.dim, x.rank)
        if d == 0:
            raise SpecError("S008", "dim=0 is the batch: LayerScale scales channels, one factor each",
                            "use dim: -1 for the features of tokens (B, T, C), dim: 1 for a map (B, C, H, W)",
                            field="dim")
        # num_features: 1 is one factor for every channel, broadcast: FCOS's per-level Scale, ReZero's alpha
        c = 1 if p.num_features == 1 else check_given(p.num_features, x.shape[d], "num_features", x, d, "channels")
        # the dim as a count from the end: the parameter broadcasts as (C, 1, ..., 1) at any rank given
        args = {"num_features": c, "init_values": p.init_values, "dim": d - x.rank, "bias": p.bias}
        per = 2 if p.bias else 1
        return LayerResult(_same(x), args, per * c, mul(product(x.shape[1:]), per))
