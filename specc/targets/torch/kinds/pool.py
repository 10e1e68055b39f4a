"""PyTorch lowering of the pools: nn's pools and unpools, the AdaptivePool support class where the shape
rule asked for windows computed at run time (``op`` in the attributes), and the global pools
written inline as ``x.mean(dim=(2, 3))``."""

from __future__ import annotations

from typing import Any

from .base import Lit, Lowering, lowering, on


class _MaxPool(Lowering):
    positional = ("kernel_size",)
    defaults = {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False}


class _MaxUnpool(Lowering):
    """``self.unpool(values, indices)``; output_size is an argument of forward, written as a list,
    or read from the third input's size at run time."""

    positional = ("kernel_size",)
    defaults = {"stride": None, "padding": 0}
    forward_keys = ("output_size",)

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        size = (f", output_size={on(inputs[2])}.shape[2:]" if len(inputs) > 2 else
                "" if args["output_size"] is None else f", output_size={args['output_size']!r}")
        return f"{module}({inputs[0]}, {inputs[1]}{size})"


class _AvgPool(Lowering):
    positional = ("kernel_size",)
    defaults = {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True,
                "divisor_override": None}


class _AdaptivePool(Lowering):
    positional = ("output_size",)

    def init(self, args: dict[str, Any], lit: Lit = repr) -> str | None:
        if "op" in args:  # windows computed from the input's size at run time, which every exporter keeps
            return f"AdaptivePool({lit(args['output_size'])}, {lit(args['op'])})"
        return super().init(args, lit)

    def support_texts(self, args: dict[str, Any]) -> list[str]:
        return super().support_texts(args) if "op" in args else []


@lowering
class MaxPool1d(_MaxPool):
    torch_class = "nn.MaxPool1d"


@lowering
class MaxPool2d(_MaxPool):
    torch_class = "nn.MaxPool2d"


@lowering
class MaxPool3d(_MaxPool):
    torch_class = "nn.MaxPool3d"


@lowering
class MaxUnpool1d(_MaxUnpool):
    torch_class = "nn.MaxUnpool1d"


@lowering
class MaxUnpool2d(_MaxUnpool):
    torch_class = "nn.MaxUnpool2d"


@lowering
class MaxUnpool3d(_MaxUnpool):
    torch_class = "nn.MaxUnpool3d"


@lowering
class AvgPool1d(_AvgPool):
    torch_class = "nn.AvgPool1d"


@lowering
class AvgPool2d(_AvgPool):
    torch_class = "nn.AvgPool2d"


@lowering
class AvgPool3d(_AvgPool):
    torch_class = "nn.AvgPool3d"


@lowering
class AdaptiveAvgPool1d(_AdaptivePool):
    torch_class, support = "nn.AdaptiveAvgPool1d", ("adaptive_pool",)


@lowering
class AdaptiveAvgPool2d(_AdaptivePool):
    torch_class, support = "nn.AdaptiveAvgPool2d", ("adaptive_pool",)


@lowering
class AdaptiveAvgPool3d(_AdaptivePool):
    torch_class, support = "nn.AdaptiveAvgPool3d", ("adaptive_pool",)


@lowering
class AdaptiveMaxPool1d(_AdaptivePool):
    torch_class, support = "nn.AdaptiveMaxPool1d", ("adaptive_pool",)


@lowering
class AdaptiveMaxPool2d(_AdaptivePool):
    torch_class, support = "nn.AdaptiveMaxPool2d", ("adaptive_pool",)


@lowering
class AdaptiveMaxPool3d(_AdaptivePool):
    torch_class, support = "nn.AdaptiveMaxPool3d", ("adaptive_pool",)


class _GlobalPool(Lowering):
    method: str

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        keep = ", keepdim=True" if args["keepdim"] else ""
        dims = args["dim"]
        return f"{on(inputs[0])}.{self.method}(dim={dims[0] if len(dims) == 1 else dims}{keep})"


@lowering
class GlobalAvgPool(_GlobalPool):
    method = "mean"


@lowering
class GlobalMaxPool(_GlobalPool):
    method = "amax"
