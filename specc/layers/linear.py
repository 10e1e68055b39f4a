"""Linear (Keras: Dense): acts on the last dim of a tensor of any rank."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, PositiveInt

from ..diagnostics import SpecError
from ..shapes.dims import mul, product
from ..shapes.tensor import TensorType
from .base import LINEAR_OVER_WIDTH, LayerKind, LayerParams, LayerResult, check_given, register
from .reparam import SpectralNorm, WeightNorm, reparam


class LinearParams(LayerParams):
    out_features: PositiveInt = Field(validation_alias=AliasChoices("out_features", "units"))
    in_features: PositiveInt | None = None
    bias: bool = Field(True, validation_alias=AliasChoices("bias", "use_bias"))
    weight_norm: WeightNorm = False
    spectral_norm: SpectralNorm = False


@register
class Linear(LayerKind):
    type_name = "Linear"
    aliases = ("Dense",)
    Params = LinearParams
    summary = "y = x Aᵀ + b on the last dim; in_features inferred"

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        n_out = int(args["out_features"])
        return {"weight": (n_out, int(args["in_features"])), **({"bias": (n_out,)} if args["bias"] else {})}

    def infer(self, p: LinearParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if x.rank < 2:
            # a symbolic size such as 144*B is the batch merged with each sample's values
            # (Flatten's start_dim: 0, a Reshape to [-1]); a fixed one is an input without a batch
            hint = "add a batch dim to the input" if x.rank == 0 or isinstance(x.shape[0], int) else (
                f"its one dim {x.shape[0]} merges the batch with each sample's values: keep the batch as dim 0 "
                "where they were merged (Flatten's start_dim: 1, the default, or a Reshape to [B, -1])")
            raise SpecError("S003", f"Linear needs (N, *, in_features), got {x}", hint)
        if p.in_features is not None and x.rank > 2 and p.in_features != x.shape[-1]:
            flat = product(x.shape[1:])
            factors = "·".join(str(d) for d in x.shape[1:])
            if flat == p.in_features:
                raise SpecError("S003", f"in_features is {flat} (= {factors}), the size of the flattened input, "
                                f"but the input {x} was never flattened", "add - {type: Flatten} before this layer",
                                field="in_features")
            if isinstance(flat, int):
                raise SpecError("S001", f"in_features is {p.in_features} but the incoming tensor {x} has "
                                f"{x.shape[-1]} features in its last dim (Linear acts on the last dim only)",
                                f"to use all {flat} (= {factors}) values, add - {{type: Flatten}} before it and "
                                f"set in_features: {flat}, or omit in_features", field="in_features")
        n_in = check_given(p.in_features, x.shape[-1], "in_features", x, -1, "features in its last dim")
        out = TensorType((*x.shape[:-1], p.out_features), x.dtype, {3: LINEAR_OVER_WIDTH} if x.rank == 4 else {})
        params = n_in * p.out_features + (p.out_features if p.bias else 0)
        positions = product(x.shape[1:-1])
        norm, more, buffers = reparam(p, (p.out_features, n_in), 0)
        return LayerResult(out, {"in_features": n_in, "out_features": p.out_features, "bias": p.bias} | norm,
                           params + more, mul(positions, n_in * p.out_features), buffers)
