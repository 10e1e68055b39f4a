"""PyTorch lowering of the convolutions: nn's Conv/ConvTranspose, a depthwise conv is an
nn.Conv with groups = in_channels, a separable conv the SeparableConv support class."""

from __future__ import annotations

from typing import Any

from .. import support
from .base import Lit, Lowering, lowering


class _Conv(Lowering):
    positional = ("in_channels", "out_channels", "kernel_size")
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True, "padding_mode": "zeros"}
    support_when = ("masked_conv", "std_conv")

    def init(self, args: dict[str, Any], lit: Lit = repr) -> str | None:
        # A masked or weight-standardised conv is its own class (timm's StdConv2d, PixelCNN's
        # MaskedConv2d) taking nn.Conv's arguments and its settings after them
        rank = self.torch_class[-2] if self.torch_class else ""
        if "mask" in args:
            plain = super().init({k: v for k, v in args.items() if k != "mask"}, lit) or ""
            return f"MaskedConv{rank}d({plain.partition('(')[2][:-1]}, mask_type={lit(args['mask'])})"
        if "weight_standardization" in args:
            ws = args["weight_standardization"]
            plain = super().init({k: v for k, v in args.items() if k != "weight_standardization"}, lit) or ""
            extra = [f"eps={lit(ws['eps'])}"] if ws["eps"] != 1e-6 else []
            if ws["gain"]:
                extra = ([f"gamma={lit(ws['gamma'])}"] if ws["gamma"] != 1.0 else []) + extra
            cls = f"{'ScaledStdConv' if ws['gain'] else 'StdConv'}{rank}d"
            return f"{cls}({', '.join([plain.partition('(')[2][:-1], *extra])})"
        return super().init(args, lit)

    def support_texts(self, args: dict[str, Any]) -> list[str]:
        need = ["masked_conv"] * ("mask" in args) + ["std_conv"] * ("weight_standardization" in args)
        return [*super().support_texts(args), *(support.text(name) for name in need)]


class _ConvTranspose(Lowering):
    positional = ("in_channels", "out_channels", "kernel_size")
    defaults = {"stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "bias": True, "dilation": 1}


class _SeparableConv(Lowering):
    positional = ("in_channels", "out_channels", "kernel_size")
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "depth_multiplier": 1, "bias": True,
                "padding_mode": "zeros"}
    support = ("separable_conv",)


@lowering
class Conv1d(_Conv):
    torch_class = "nn.Conv1d"


@lowering
class Conv2d(_Conv):
    torch_class = "nn.Conv2d"


@lowering
class Conv3d(_Conv):
    torch_class = "nn.Conv3d"


@lowering
class ConvTranspose1d(_ConvTranspose):
    torch_class = "nn.ConvTranspose1d"


@lowering
class ConvTranspose2d(_ConvTranspose):
    torch_class = "nn.ConvTranspose2d"


@lowering
class ConvTranspose3d(_ConvTranspose):
    torch_class = "nn.ConvTranspose3d"


@lowering
class DepthwiseConv1d(_Conv):
    torch_class = "nn.Conv1d"


@lowering
class DepthwiseConv2d(_Conv):
    torch_class = "nn.Conv2d"


@lowering
class SeparableConv1d(_SeparableConv):
    torch_class = "SeparableConv1d"


@lowering
class SeparableConv2d(_SeparableConv):
    torch_class = "SeparableConv2d"
