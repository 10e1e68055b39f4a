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
from .reshape import on

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


def _dims(dims: tuple[int, ...]) -> str:
    return str(dims[0]) if len(dims) == 1 else str(dims)


class _Pool(Spatial):
    positional = ("kernel_size",)
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


def _as_tuple(v: Any) -> tuple[int, ...]:
    return tuple(v) if isinstance(v, (list, tuple)) else (v,)


def ceil_padding_problem(args: dict[str, Any]) -> str | None:
    """PyTorch's ceil_mode drops a last window that would start in the right padding (or past the
    input); the exported models do not always drop it (MaxPool1d k=2, padding 1, L=3: 3 vs 2;
    MaxPool2d k=1, stride 3, H=3: 2 vs 1), so ONNX can keep one more window than PyTorch. Such a
    window can exist only when the window reaches no further than padding + stride - 1."""
    if not args.get("ceil_mode"):
        return None
    k, pads = _as_tuple(args["kernel_size"]), _as_tuple(args.get("padding", 0))
    s = _as_tuple(args["stride"] if args.get("stride") is not None else args["kernel_size"])
    d = _as_tuple(args.get("dilation", 1))
    n = max(len(k), len(pads), len(s), len(d))
    pick = lambda t, i: t[i] if len(t) > 1 else t[0]
    for i in range(n):
        reach = pick(d, i) * (pick(k, i) - 1) + 1
        if reach <= pick(pads, i) + pick(s, i) - 1:
            return ("with ceil_mode, PyTorch drops a last window that starts past the input and the exported "
                    "ONNX model can keep it, so the two disagree at some input sizes; set ceil_mode: false, or a "
                    "kernel_size larger than padding + stride - 1")
    return None


class _MaxPool(_Pool):
    Params = MaxPoolParams
    has_dilation = True
    defaults = {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False}

    def onnx_problem(self, args: dict[str, Any]) -> str | None:
        return ceil_padding_problem(args)

    def args(self, p: MaxPoolParams, k: tuple[int, ...], s: tuple[int, ...], pads: tuple[int, ...],
             d: tuple[int, ...]) -> dict[str, Any]:
        return {"kernel_size": compact(k), "stride": None if p.stride is None else compact(s),
                "padding": compact(pads), "dilation": compact(d), "ceil_mode": p.ceil_mode}


class _AvgPool(_Pool):
    Params = AvgPoolParams
    defaults = {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True,
                "divisor_override": None}

    def onnx_problem(self, args: dict[str, Any]) -> str | None:
        if args.get("divisor_override") is not None:
            # torch 2.x: both exporters drop it and divide by the window size, silently wrong
            return ("no torch ONNX exporter keeps divisor_override (the exported model divides by the window "
                    "size instead); drop divisor_override, and scale after the pool if you need another divisor")
        return ceil_padding_problem(args)

    def args(self, p: AvgPool1dParams, k: tuple[int, ...], s: tuple[int, ...], pads: tuple[int, ...],
             d: tuple[int, ...]) -> dict[str, Any]:
        out = {"kernel_size": compact(k), "stride": None if p.stride is None else compact(s),
               "padding": compact(pads), "ceil_mode": p.ceil_mode, "count_include_pad": p.count_include_pad}
        if isinstance(p, AvgPoolParams):
            out["divisor_override"] = p.divisor_override
        return out


ADAPTIVE_SUPPORT = '''
class AdaptivePool(nn.Module):
    """PyTorch's adaptive average/max pooling, with each output cell's window computed from the
    input's size as the model runs (PyTorch's rule: from floor(k·n/o) to ceil((k+1)·n/o)), so
    that an exported ONNX model pools correctly at every size, not only the one it was traced at."""

    def __init__(self, output_size: tuple[int | None, ...], op: str) -> None:
        super().__init__()
        self.output_size = output_size
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = x.dim() - len(self.output_size)
        for i, o in enumerate(self.output_size):
            if o is None:
                continue
            axis = first + i
            n = torch._shape_as_tensor(x)[axis]
            k = torch.arange(o)
            start = (k * n) // o
            end = ((k + 1) * n + o - 1) // o
            pos = torch.arange(n)
            inside = (pos.unsqueeze(0) >= start.unsqueeze(1)) & (pos.unsqueeze(0) < end.unsqueeze(1))  # (o, n)
            last = x.dim() - 1
            steps = x.movedim(axis, last).unsqueeze(last)  # (..., 1, n)
            if self.op == "max":
                y = steps.masked_fill(~inside, float("-inf")).amax(last + 1)
            else:
                y = (steps * (inside.to(x.dtype) / (end - start).to(x.dtype).unsqueeze(1))).sum(last + 1)
            x = y.movedim(last, axis)
        return x
'''


class _AdaptivePool(Spatial):
    Params = AdaptivePoolParams
    positional = ("output_size",)
    support_code = ADAPTIVE_SUPPORT

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

    def torch_init(self, args: dict[str, Any], lit: Any = repr) -> str | None:
        if "op" in args:  # windows computed from the input's size at run time, which every exporter keeps
            return f"AdaptivePool({lit(args['output_size'])}, {lit(args['op'])})"
        return super().torch_init(args, lit)

    def support(self, args: dict[str, Any]) -> list[str]:
        return [self.support_code] if "op" in args else []


def _pool(name: str, base: type[LayerKind], rank: int, aliases: tuple[str, ...], doc: str,
          params: type[LayerParams] | None = None) -> type[LayerKind]:
    body: dict[str, Any] = {"type_name": name, "rank": rank, "aliases": aliases, "torch_class": f"nn.{name}",
                            "summary": doc, "__module__": __name__}
    if params is not None:
        body["Params"] = params
    return register(type(name, (base,), body))


MaxPool1d = _pool("MaxPool1d", _MaxPool, 1, ("MaxPooling1D",), "max over sliding windows of (N, C, L)")
MaxPool2d = _pool("MaxPool2d", _MaxPool, 2, ("MaxPooling2D",), "max over sliding windows of (N, C, H, W)")
MaxPool3d = _pool("MaxPool3d", _MaxPool, 3, ("MaxPooling3D",), "max over sliding windows of (N, C, D, H, W)")
AvgPool1d = _pool("AvgPool1d", _AvgPool, 1, ("AveragePooling1D",), "mean over sliding windows of (N, C, L)",
                  AvgPool1dParams)
AvgPool2d = _pool("AvgPool2d", _AvgPool, 2, ("AveragePooling2D",), "mean over sliding windows of (N, C, H, W)")
AvgPool3d = _pool("AvgPool3d", _AvgPool, 3, ("AveragePooling3D",),
                  "mean over sliding windows of (N, C, D, H, W)")
AdaptiveAvgPool1d = _pool("AdaptiveAvgPool1d", _AdaptivePool, 1, (), "mean-pool (N, C, L) to output_size")
AdaptiveAvgPool2d = _pool("AdaptiveAvgPool2d", _AdaptivePool, 2, (), "mean-pool (N, C, H, W) to output_size")
AdaptiveAvgPool3d = _pool("AdaptiveAvgPool3d", _AdaptivePool, 3, (), "mean-pool (N, C, D, H, W) to output_size")
AdaptiveMaxPool1d = _pool("AdaptiveMaxPool1d", _AdaptivePool, 1, (), "max-pool (N, C, L) to output_size")
AdaptiveMaxPool2d = _pool("AdaptiveMaxPool2d", _AdaptivePool, 2, (), "max-pool (N, C, H, W) to output_size")
AdaptiveMaxPool3d = _pool("AdaptiveMaxPool3d", _AdaptivePool, 3, (), "max-pool (N, C, D, H, W) to output_size")


class _GlobalPool(LayerKind):
    """Reduce every spatial dim of (N, C, *spatial), written inline as ``x.mean(dim=(2, 3))``."""

    Params = GlobalPoolParams
    ranks = (3, 4, 5)
    layout = "(N, C, *spatial)"
    method: str

    def infer(self, p: GlobalPoolParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        dims = tuple(range(2, x.rank))
        shape = (*x.shape[:2], *((1,) * len(dims) if p.keepdim else ()))
        return LayerResult(TensorType(shape, x.dtype, {1: x.notes[1]} if 1 in x.notes else {}),
                           {"dim": dims, "keepdim": p.keepdim}, 0, product(x.shape[1:]))

    def torch_forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        keep = ", keepdim=True" if args["keepdim"] else ""
        return f"{on(inputs[0])}.{self.method}(dim={_dims(args['dim'])}{keep})"


@register
class GlobalAvgPool(_GlobalPool):
    type_name, method = "GlobalAvgPool", "mean"
    aliases = ("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D")
    summary = "mean over every spatial dim: (N, C, *spatial) -> (N, C)"


@register
class GlobalMaxPool(_GlobalPool):
    type_name, method = "GlobalMaxPool", "amax"
    aliases = ("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D")
    summary = "max over every spatial dim: (N, C, *spatial) -> (N, C)"
