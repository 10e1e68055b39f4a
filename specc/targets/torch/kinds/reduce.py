"""PyTorch lowering of the reductions, written inline in ``forward``."""

from __future__ import annotations

from typing import Any

from .base import Lowering, lowering, on

# amax/amin reduce several dims at once and return values only (max/min return indices too).
METHODS = {"mean": "mean", "sum": "sum", "max": "amax", "min": "amin"}


class _Reduce(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        keep = ", keepdim=True" if args["keepdim"] else ""
        if args["op"] == "l2":
            return f"torch.linalg.vector_norm({inputs[0]}, dim={args['dim']}{keep})"
        if args["op"] in ("var", "std"):
            c = args["correction"]
            corr = "" if c == 1 else ", unbiased=False" if c == 0 else f", correction={c}"
            if args.get("eps"):  # RevIN's deviation, as the forecasters write it
                return f"torch.sqrt({on(inputs[0])}.var(dim={args['dim']}{keep}{corr}) + {args['eps']!r})"
            return f"{on(inputs[0])}.{args['op']}(dim={args['dim']}{keep}{corr})"
        return f"{on(inputs[0])}.{METHODS[args['op']]}(dim={args['dim']}{keep})"


@lowering
class Reduce(_Reduce):
    pass


@lowering
class Mean(_Reduce):
    pass


@lowering
class SoftArgmax(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        # the softmax times the bins 0 .. n - 1 laid along dim, summed over it
        d, n = args["dim"], args["bins"]
        bins = f"torch.arange({n}, dtype={on(inputs[0])}.dtype, device={on(inputs[0])}.device)"
        if d != -1:
            bins += f".view({n}{', 1' * (-d - 1)})"
        keep = ", keepdim=True" if args["keepdim"] else ""
        return f"(torch.softmax({inputs[0]}, {d}) * {bins}).sum({d}{keep})"
