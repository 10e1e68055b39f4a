"""PyTorch lowering of the index family (ArgMax, ArgMin, CumSum, Compare, Pick, MaskedFill), written inline."""

from __future__ import annotations

from typing import Any

from ....layers.index import OPS
from .base import Lit, Lowering, lowering, on


class _Arg(Lowering):
    method = ""

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        keep = ", keepdim=True" if args["keepdim"] else ""
        return f"{on(inputs[0])}.{self.method}(dim={args['dim']}{keep})"


@lowering
class ArgMax(_Arg):
    method = "argmax"


@lowering
class ArgMin(_Arg):
    method = "argmin"


@lowering
class CumSum(Lowering):
    support = ("exclusive_cumsum",)  # torch.cumsum has no exclusive

    def support_texts(self, args: dict[str, Any]) -> list[str]:
        return super().support_texts(args) if args["exclusive"] else []

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        x, d = on(inputs[0]), args["dim"]
        if args["reverse"]:
            x = f"{x}.flip({d})"
        if args["exclusive"]:
            wide = f", torch.{args['dtype']}" if args["dtype"] else ""
            y = f"exclusive_cumsum({x}, {d}{wide})"
        else:
            wide = f", dtype=torch.{args['dtype']}" if args["dtype"] else ""
            y = f"{on(x)}.cumsum({d}{wide})"
        return f"{y}.flip({d})" if args["reverse"] else y


@lowering
class Compare(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        other = inputs[1] if len(inputs) > 1 else repr(args["value"])
        return f"{on(inputs[0])} {OPS[args['op']]} {other}"


@lowering
class Pick(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        # x.gather(dim, index) with the index given x's trailing dims (size 1 at dim), then dim dropped:
        # torch.gather takes int64 positions only
        x, i, d = on(inputs[0]), on(inputs[1]), args["dim"]
        trailing = int(args["rank"]) - d - 1
        index = f"{i}.long()" if args["index_dtype"] != "int64" else i
        index = f"{index}[..., {', '.join(['None'] * (trailing + 1))}]"
        if trailing:
            sizes = ", ".join(["-1"] * d + ["1"] + [f"{x}.shape[{k}]" for k in range(d + 1, d + 1 + trailing)])
            index = f"{index}.expand({sizes})"
        return f"{x}.gather({d}, {index}).squeeze({d})"


@lowering
class MaskedFill(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        value = args["value"]
        infinite = isinstance(value, float) and value in (float("inf"), float("-inf"))
        text = f'float("{value}")' if infinite else repr(value)
        return f"{on(inputs[0])}.masked_fill({inputs[1]}, {text})"


@lowering
class CausalMask(Lowering):
    support = ("relative_position",)

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        x = on(inputs[0])
        given = [f"{key}={args[key]!r}" for key, default in (("diagonal", 1), ("window", None)) if args[key] != default]
        sizes = [f"{x}.size({args['q']})", f"{x}.size({args['k']})", f"{x}.device"]
        return f"causal_mask({', '.join(sizes + given)})"


@lowering
class RelativePositionBucket(Lowering):
    support = ("relative_position",)  # HF's T5Attention._relative_position_bucket; PyTorch has none

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        dims = args["dims"]
        q = on(inputs[0])
        k = on(inputs[1]) if len(inputs) > 1 else q
        given = [f"{key}={args[key]!r}" for key, default in _BUCKET_DEFAULTS.items() if args[key] != default]
        sizes = [f"{q}.size({dims[0]})", f"{k}.size({dims[-1]})", f"{q}.device"]
        return f"relative_position_bucket({', '.join(sizes + given)})"


_BUCKET_DEFAULTS = {"bidirectional": True, "num_buckets": 32, "max_distance": 128}


@lowering
class RelativePositionIndex(Lowering):
    torch_class = "RelativePositionIndex"
    support = ("relative_position",)
    positional = ("window",)
    defaults = {"class_token": False, "absolute": False}

    def init(self, args: dict[str, Any], lit: Lit = repr) -> str | None:
        return super().init(args | {"window": tuple(args["window"])}, lit)


@lowering
class AnchorPoints(Lowering):
    support = ("anchor_points",)  # ultralytics' make_anchors

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        offset = "" if args["offset"] == 0.5 else f", {args['offset']!r}"
        return f"make_anchors([{', '.join(inputs)}], {args['strides']!r}{offset})"


@lowering
class ALiBi(Lowering):
    support = ("relative_position",)

    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        dims = args["dims"]
        q = on(inputs[0])
        k = on(inputs[1]) if len(inputs) > 1 else q
        given = [f"{key}={args[key]!r}" for key, default in (("max_bias", 8.0), ("symmetric", False))
                 if args[key] != default]
        sizes = [f"{q}.size({dims[0]})", f"{k}.size({dims[-1]})", str(args["num_heads"]), f"{q}.device"]
        return f"alibi_bias({', '.join(sizes + given)})"
