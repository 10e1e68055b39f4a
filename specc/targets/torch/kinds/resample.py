"""PyTorch lowering of the resampling layers: Upsample is nn.Upsample, or, to a second input's
size, F.interpolate(x, size=like.shape[2:])."""

from __future__ import annotations

from typing import Any

from .base import Lit, Lowering, lowering, on


@lowering
class Upsample(Lowering):
    torch_class = "nn.Upsample"
    defaults = {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None}
    forward_keys = ("like",)

    def init(self, args: dict[str, Any], lit: Lit = repr) -> str | None:
        return None if args.get("like") else super().init(args, lit)

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        if not args.get("like"):
            return super().forward(module, inputs, args)
        corners = f", align_corners={args['align_corners']}" if args["align_corners"] is not None else ""
        mode = args["mode"]  # a name from a fixed list, quoted as the formatter quotes strings
        return f'F.interpolate({inputs[0]}, size={on(inputs[1])}.shape[2:], mode="{mode}"{corners})'
