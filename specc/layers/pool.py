"""Pooling: MaxPool/AvgPool 1d-3d (sliding windows), AdaptiveAvg/MaxPool 1d-3d, global pooling,
and MaxUnpool 1d-3d, which puts a MaxPool's values back at the indices it kept.

Sliding-window pools share the conv arithmetic (``formulas.conv_out`` through
``conv.window_sizes``), ceil_mode included.

MACs per sample: a sliding pool does one compare/add per element of each window
(output elements × kernel elements); adaptive and global pools read each input element
about once (input elements, fvcore's count for adaptive_avg_pool); an unpool, a scatter, none.
"""

import math
from dataclasses import dataclass
from typing import Any

from pydantic import AliasChoices, Field, NonNegativeInt, PositiveInt

from ..diagnostics import SpecError
from ..shapes.dims import DimLike, add, fmt_shape, mul, product
from ..shapes.formulas import conv_transpose_out
from ..shapes.tensor import TensorType
from .base import Form, LayerKind, LayerParams, LayerResult, ntuple, positive, register
from .conv import Spatial, compact, window_sizes

IntOrTuple = PositiveInt | tuple[PositiveInt, ...]
PadOrTuple = NonNegativeInt | tuple[NonNegativeInt, ...]


class MaxPoolParams(LayerParams):
    kernel_size: IntOrTuple = Field(validation_alias=AliasChoices("kernel_size", "pool_size"))
    stride: IntOrTuple | None = Field(None, validation_alias=AliasChoices("stride", "strides"))
    padding: PadOrTuple = 0
    dilation: IntOrTuple = 1
    ceil_mode: bool = False
    return_indices: bool = Field(False, description="also give where each maximum was, for MaxUnpool: "
                                 "read pool.values and pool.indices")


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


@dataclass(frozen=True, eq=False)
class PoolIndices(TensorType):
    """A MaxPool's indices (``return_indices: true``): for each maximum, its int64 position
    within its own plane of the pool's input (``h * W + w`` in 2-d), as PyTorch numbers them.
    Positions mean nothing without the plane they number, so the type keeps that plane's
    size and the pool's window: MaxUnpool reads them to put the values back where they
    were.  Only the pool makes this type: any layer in between (a Reshape, a Cast) gives plain
    integers, which MaxUnpool refuses (S024)."""

    pooled: tuple[DimLike, ...] = ()  # spatial size of the pool's input: the plane the positions number
    kernel: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    padding: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    ceil_mode: bool = False

    # Equal to a plain tensor type of the same shape and dtype, as the engine compares types.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, TensorType) and (self.shape, self.dtype) == (other.shape, other.dtype)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype))


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
                fix = (f"use padding: {ki // 2} or less (at most kernel_size // 2)" if ki // 2 else
                       "use padding: 0 (a window of 1 cannot be padded)")
                raise SpecError("V003", f"padding {pi} is more than half of kernel_size {ki}",
                                f"{fix}, or a larger kernel", field="padding")
        spatial = window_sizes(tuple(x.shape[2:]), k, s, pads, d, p.ceil_mode, tuple(ki // 2 for ki in k), x)
        out = TensorType((x.shape[0], x.shape[1], *spatial), x.dtype)
        args = self.args(p, k, s, pads, d)
        macs = mul(product(out.shape[1:]), math.prod(k))
        if not args.get("return_indices"):
            return LayerResult(out, args, 0, macs)
        where = PoolIndices(out.shape, "int64", pooled=tuple(x.shape[2:]), kernel=k, stride=s, padding=pads,
                            dilation=d, ceil_mode=p.ceil_mode)
        return LayerResult(out, args, 0, macs, outs=(out, where), out_names=("values", "indices"))

    def args(self, p: Any, k: tuple[int, ...], s: tuple[int, ...], pads: tuple[int, ...],
             d: tuple[int, ...]) -> dict[str, Any]:
        raise NotImplementedError


class _MaxPool(_Pool):
    Params = MaxPoolParams
    has_dilation = True

    def args(self, p: MaxPoolParams, k: tuple[int, ...], s: tuple[int, ...], pads: tuple[int, ...],
             d: tuple[int, ...]) -> dict[str, Any]:
        args = {"kernel_size": compact(k), "stride": None if p.stride is None else compact(s),
                "padding": compact(pads), "dilation": compact(d), "ceil_mode": p.ceil_mode}
        # Only when asked, so that a pool without indices keeps the attributes it always had.
        return {**args, "return_indices": True} if p.return_indices else args

    def applied(self, args: dict[str, Any]) -> Form:
        return "call" if args.get("return_indices") else "module"  # two values out: repeat cannot chain it


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


# -- putting pooled values back ----------------------------------------------------------------

class MaxUnpoolParams(LayerParams):
    kernel_size: IntOrTuple
    stride: IntOrTuple | None = None
    padding: PadOrTuple = 0
    output_size: PositiveInt | tuple[PositiveInt | None, ...] | None = Field(
        None, description="the spatial size to give back (null keeps a dim's default): within stride - 1 of "
                          "the default (in - 1)·stride - 2·padding + kernel_size, either way")


class _MaxUnpool(Spatial):
    """MaxPool's partial inverse: each value goes back to the position its index names, in a
    plane of zeros.  ``from: [values, indices]`` reads a MaxPool's two outputs (``return_indices:
    true``; the values may have gone through layers that keep their shape); a third input, when
    given, sets the output's spatial size to its own at run time (PyTorch's
    ``output_size=x.shape[2:]``), which restores an odd size that a symbolic dim may have.

    The indices number positions within each plane of the pool's input (``h * W + w``), and
    PyTorch reads them within a plane of the unpool's output size, which kernel_size, stride,
    padding and output_size set.  Where those planes differ, the values land at the wrong
    positions (a row's width is read as another) or past the plane (a run-time error), so the
    rule is the output plane itself: every dim but the first must be the pool's input size, and
    the first must reach the last row a window read.  The unpool's window matters only through
    the size it gives: a kernel or stride unlike the pool's is refused where it moves values
    and accepted where output_size brings the plane back."""

    Params = MaxUnpoolParams
    min_inputs, max_inputs = 2, 3
    accepts = "any"  # values are floats and indices int64: checked below, each with its own fix
    form = "call"

    def infer(self, p: MaxUnpoolParams, ins: list[TensorType]) -> LayerResult:
        r, name = self.rank, self.type_name
        pool = f"MaxPool{r}d"  # the pool whose indices it reads
        values, where = ins[0], ins[1]
        if not values.is_float:
            raise SpecError("S007", f"receives {values.dtype} values {values}, but {name} puts back floats",
                            f"read the {pool}'s values first: from: [pool.values, pool.indices]", field="from")
        _check_indices(where, r)
        assert isinstance(where, PoolIndices)
        if values.shape != where.shape:
            raise SpecError("S025", f"the values {values} and the indices {where} differ in shape: each value "
                            "needs the index of its own maximum",
                            "unpool the pool's values, or what layers that keep their shape made of them (a "
                            "conv with padding and the pool's channel count)", field="from")
        k = ntuple(p.kernel_size, r, "kernel_size")
        s = k if p.stride is None else ntuple(p.stride, r, "stride")
        pads = ntuple(p.padding, r, "padding")
        default = tuple(conv_transpose_out(n, ki, si, pi) for n, ki, si, pi in zip(values.shape[2:], k, s, pads))
        if len(ins) == 3:
            if p.output_size is not None:
                raise SpecError("V003", "output_size and a third input both set the output size",
                                "keep one: the third input's size, or output_size", field="output_size")
            size = tuple(ins[2].shape[2:])
            _check_accepted(size, default, s, where, k, pads)
        else:
            size = _output_size(p.output_size, default, s, r)
        # The default may be 0 or less where a given size (within stride of it) is what PyTorch builds.
        size = tuple(positive(d, f"the unpooled size along spatial dim {i}",
                              f" (input {n}, kernel {ki}, stride {si}, padding {pi})")
                     for i, (d, n, ki, si, pi) in enumerate(zip(size, values.shape[2:], k, s, pads)))
        _check_plane(size, where, k, s, pads, len(ins) == 3)
        out = TensorType((values.shape[0], values.shape[1], *size), values.dtype)
        args = {"kernel_size": compact(k), "stride": None if p.stride is None else compact(s),
                "padding": compact(pads), "output_size": None if len(ins) == 3 or p.output_size is None else
                list(size)}
        # A scatter: no multiply, add or compare (torchinfo and fvcore count none either).
        return LayerResult(out, args, 0, 0)


def _check_indices(where: TensorType, r: int) -> None:
    """Integers are indices only as the pool of this rank gave them (one of another rank fails the
    rank check first, whose hint names the unpool of its rank)."""
    pool = f"MaxPool{r}d"
    if where.dtype != "int64":
        raise SpecError("S024", f"its second input {where} holds {where.dtype}, not the int64 indices of a "
                        "MaxPool", f"read the indices of a {pool} with return_indices: true: from: "
                        "[pool.values, pool.indices]", field="from")
    if not isinstance(where, PoolIndices):
        raise SpecError("S024", f"its second input {where} is not a MaxPool's indices (or was changed on the "
                        "way: a reshape or a cast keeps no record of the plane they number)",
                        f"read them straight from a {pool} with return_indices: true: from: [pool.values, "
                        "pool.indices]", field="from")


def _output_size(given: int | tuple[int | None, ...] | None, default: tuple[DimLike, ...],
                 s: tuple[int, ...], r: int) -> tuple[DimLike, ...]:
    """PyTorch's output_size: within ``stride - 1`` of the default per dim (null: the default)."""
    if given is None:
        return default
    sizes = (given,) * r if isinstance(given, int) else tuple(given)
    if len(sizes) != r:
        raise SpecError("V003", f"output_size has {len(sizes)} values but this layer has {r} spatial dims",
                        f"give one number or {r} (null keeps a dim's default size)", field="output_size")
    out: list[DimLike] = []
    for i, (want, d, si) in enumerate(zip(sizes, default, s)):
        if want is None:
            out.append(d)
            continue
        if not isinstance(d, int):
            raise SpecError("S005", f"output_size {want} along spatial dim {i} is a fixed size, but the unpooled "
                            f"size there is {d}, which depends on {', '.join(sorted(d.symbols()))}",
                            "write null there (the default size), or give a third input whose size the output "
                            "takes at run time: from: [values, indices, the tensor the pool read]",
                            field="output_size")
        if not _accepts(want - d, si):
            accepted = _accepted(d, si)
            raise SpecError("S026", f"output_size {want} along spatial dim {i} is not one PyTorch accepts: "
                            f"with stride {si} the unpooled size there is {accepted}",
                            f"use {accepted} there (null for {d}), or change kernel_size, stride or padding",
                            field="output_size")
        out.append(want)
    return tuple(out)


def _accepts(gap: int, stride: int) -> bool:
    """Whether PyTorch takes an output size ``gap`` away from the default: it asks for
    ``default - stride < size < default + stride``."""
    return -stride < gap < stride


def _accepted(default: DimLike, stride: int) -> str:
    """The output sizes PyTorch takes around ``default``, in words."""
    lo = max(1, default - stride + 1) if isinstance(default, int) else add(default, 1 - stride)
    return str(default) if stride == 1 else f"{lo} to {add(default, stride - 1)}"


def _pool_window(where: PoolIndices) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The unpool window that undoes the pool: its stride and padding, and as kernel the span a
    dilated window covers, d·(k - 1) + 1 (the kernel itself without dilation)."""
    span = tuple(d * (k - 1) + 1 for k, d in zip(where.kernel, where.dilation))
    return span, where.stride, where.padding


def _own_window(where: PoolIndices, k: tuple[int, ...], s: tuple[int, ...], pads: tuple[int, ...]) -> str:
    """The edit that gives the unpool the pool's window; "" when it has it."""
    own = _pool_window(where)
    spanned = " (the span of the pool's dilated window)" if own[0] != where.kernel else ""
    return "" if (k, s, pads) == own else (f"use the pool's kernel_size: {compact(own[0])}{spanned}, stride: "
                                           f"{compact(own[1])} and padding: {compact(own[2])}")


def _check_accepted(size: tuple[DimLike, ...], default: tuple[DimLike, ...], s: tuple[int, ...],
                    where: PoolIndices, k: tuple[int, ...], pads: tuple[int, ...]) -> None:
    """A size read at run time must still be one PyTorch accepts (within ``stride - 1`` of the
    default).  Proven for every size when it is the pool's input and the unpool has the pool's window
    without ceil_mode (then ``(n - 1)·s <= L + 2p - k < n·s``, k the window's span); else when the gap
    is fixed."""
    plain = not _own_window(where, k, s, pads) and not where.ceil_mode
    for i, (want, d, si) in enumerate(zip(size, default, s)):
        gap = add(want, mul(d, -1))
        if (isinstance(gap, int) and _accepts(gap, si)) or (plain and want == where.pooled[i]):
            continue
        window = _own_window(where, k, s, pads)
        raise SpecError("S026", f"the third input sets spatial dim {i} to {want}, which is not "
                        f"{'' if isinstance(gap, int) else 'always '}within the sizes PyTorch accepts there "
                        f"({_accepted(d, si)})",
                        f"give as third input the tensor the pool read{f', and {window}' if window else ''}",
                        field="from")


def _check_plane(size: tuple[DimLike, ...], where: PoolIndices, k: tuple[int, ...], s: tuple[int, ...],
                 pads: tuple[int, ...], third: bool) -> None:
    """The values land where they were only in the plane the indices number: every dim but the
    first equal to the pool's input (or longer, where the dims before it are 1 there), the first
    reaching past the last row a window read."""
    pooled = where.pooled
    reach = _reach(where)
    gaps = (add(size[0], mul(bound, -1)) for bound in (reach, pooled[0]))
    wrong = [] if any(isinstance(gap, int) and gap >= 0 for gap in gaps) else [0]
    # A dim may differ where every dim before it is 1 in the pool's input (their positions are all
    # 0, so the longer rows move nothing) and it holds every position the pool numbered.
    wrong += [i for i in range(1, len(size)) if size[i] != pooled[i] and not (
        all(pooled[d] == 1 for d in range(i)) and isinstance(gap := add(size[i], mul(pooled[i], -1)), int)
        and gap >= 0)]
    if not wrong:
        return
    i, fix = wrong[0], _plane_fix(where, k, s, pads, third)
    raise SpecError("S026", f"the pool's indices number positions in planes of {fmt_shape(pooled)}, but this "
                    f"layer unpools to {fmt_shape(size)}: along spatial dim {i} "
                    + ("the values would land at other positions than they came from" if i else
                       "the last rows the pool read fall outside (PyTorch fails on the first such index)"),
                    fix, field="kernel_size" if fix.startswith("use the pool's") else "output_size")


def _reach(where: PoolIndices) -> DimLike:
    """One past the last position a window of the pool reads along the first spatial dim.  Window
    i starts at i·s - p and reads every d-th position up to d·(k - 1) further, but none past the
    input's end, so a dilated window near the end may stop short of an earlier one's last read:
    the windows that reach the end are compared (a span's worth of them at most)."""
    n, s, p = where.shape[2], where.stride[0], where.padding[0]
    d, span, size = where.dilation[0], where.dilation[0] * (where.kernel[0] - 1), where.pooled[0]
    if not (isinstance(n, int) and isinstance(size, int)):
        return add(mul(add(n, -1), s), span + 1 - p)  # every window taken whole: never short of the true reach
    starts = (i * s - p for i in range(max(0, n - span // s - 2), n))
    return max(start + d * ((min(size - 1, start + span) - start) // d) for start in starts) + 1


def _plane_fix(where: PoolIndices, k: tuple[int, ...], s: tuple[int, ...], pads: tuple[int, ...],
               third: bool) -> str:
    """The edit that gives the pool's input plane back, in sizes PyTorch accepts."""
    pooled, window = where.pooled, _own_window(where, k, s, pads)
    join = lambda *parts: ", and ".join(p for p in parts if p)
    if third or not all(isinstance(d, int) for d in pooled):
        return join(window, "make the third input the tensor the pool read" if third else
                    "add the tensor the pool read as a third input, from: [values, indices, that tensor], so "
                    "its size is restored at run time")
    for (kk, ss, pp), edit in (((k, s, pads), ""), (_pool_window(where), window)):
        default = [conv_transpose_out(n, *w) for n, *w in zip(where.shape[2:], kk, ss, pp)]
        if all(isinstance(d, int) and _accepts(want - d, si) for want, d, si in zip(pooled, default, ss)):
            size = "" if default == list(pooled) else f"set output_size: {list(pooled)} (the pool's input size)"
            return join(edit, size)
    return ("no MaxUnpool gives back this pool's input size (its ceil_mode window reads past the sizes PyTorch "
            "accepts); pool with ceil_mode: false, or upsample another way (Upsample, ConvTranspose)")


@register
class MaxUnpool1d(_MaxUnpool):
    type_name, rank = "MaxUnpool1d", 1
    summary = "put MaxPool1d's values back at their indices: from: [pool.values, pool.indices]"


@register
class MaxUnpool2d(_MaxUnpool):
    type_name, rank = "MaxUnpool2d", 2
    summary = "put MaxPool2d's values back at their indices: from: [pool.values, pool.indices]"


@register
class MaxUnpool3d(_MaxUnpool):
    type_name, rank = "MaxUnpool3d", 3
    summary = "put MaxPool3d's values back at their indices: from: [pool.values, pool.indices]"


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
