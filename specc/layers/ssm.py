"""Selective state-space models: Mamba's mixer (Gu and Dao, 2023) over (B, T, d_model).

As Hugging Face's MambaMixer computes it (its sequential reference path) with mamba_ssm's names,
so either's checkpoint loads: in_proj gives the inner sequence x and the gate z (d_inner each,
expand·d_model unless given); x runs through a causal depthwise conv1d of d_conv taps and SiLU; x_proj
gives each step's dt (dt_rank features, widened by dt_proj to d_inner, then softplus), B and C
(d_state each); the state h (d_inner × d_state per sample) runs
h_t = exp(dt_t·A)·h_{t-1} + dt_t·B_t·x_t, y_t = h_t·C_t + D·x_t, with A = -exp(A_log); the output is
out_proj(y · silu(z)).

Parameters: in_proj 2·d_inner·d_model (+ 2·d_inner bias), conv1d d_inner·d_conv (+ d_inner bias),
x_proj (dt_rank + 2·d_state)·d_inner, dt_proj dt_rank·d_inner + d_inner, A_log d_inner·d_state,
D d_inner, out_proj d_model·d_inner (+ d_model bias).
MACs per sample: T · (the four projections + the conv's d_inner·d_conv + the scan's 3·d_inner·d_state).
"""

import math
from typing import Any, Literal

from pydantic import AliasChoices, Field, PositiveFloat, PositiveInt

from ..diagnostics import SpecError
from ..shapes.dims import mul
from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, check_given, register


class MambaParams(LayerParams):
    d_model: PositiveInt | None = Field(None, validation_alias=AliasChoices("d_model", "hidden_size"))
    d_state: PositiveInt = Field(16, validation_alias=AliasChoices("d_state", "state_size"))
    d_conv: PositiveInt = Field(4, validation_alias=AliasChoices("d_conv", "conv_kernel"))
    # the inner width: expand · d_model, or d_inner itself (transformers' config.json writes intermediate_size)
    expand: PositiveInt = 2
    d_inner: PositiveInt | None = Field(None, validation_alias=AliasChoices("d_inner", "intermediate_size"))
    # "auto": ceil(d_model / 16), mamba_ssm's and transformers' default
    dt_rank: PositiveInt | Literal["auto"] = Field("auto", validation_alias=AliasChoices("dt_rank", "time_step_rank"))
    conv_bias: bool = Field(True, validation_alias=AliasChoices("conv_bias", "use_conv_bias"))
    bias: bool = Field(False, validation_alias=AliasChoices("bias", "use_bias"))
    # dt_proj's initial bias: softplus⁻¹ of dt drawn log-uniformly in [dt_min, dt_max], at least dt_init_floor;
    # its weight U(±dt_scale·dt_rank^-1/2) ("random") or that bound everywhere ("constant")
    dt_min: PositiveFloat = Field(0.001, validation_alias=AliasChoices("dt_min", "time_step_min"))
    dt_max: PositiveFloat = Field(0.1, validation_alias=AliasChoices("dt_max", "time_step_max"))
    dt_init_floor: PositiveFloat = Field(1e-4, validation_alias=AliasChoices("dt_init_floor", "time_step_floor"))
    dt_scale: PositiveFloat = Field(1.0, validation_alias=AliasChoices("dt_scale", "time_step_scale"))
    dt_init: Literal["random", "constant"] = Field(
        "random", validation_alias=AliasChoices("dt_init", "time_step_init_scheme"))


@register
class Mamba(LayerKind):
    """Mamba's selective state-space mixer (HF MambaMixer, mamba_ssm's Mamba): (B, T, d_model) in and out."""

    type_name = "Mamba"
    aliases = ("MambaMixer",)
    Params = MambaParams
    ranks = (3,)
    layout = "(B, T, d_model)"
    summary = ("Mamba's selective state-space mixer over (B, T, d_model): in_proj, causal depthwise conv1d, "
               "input-dependent dt, B and C, a sequential scan of d_state per channel, gated out_proj")

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        d, inner, n, r = int(args["d_model"]), int(args["d_inner"]), int(args["d_state"]), int(args["dt_rank"])
        out: dict[str, tuple[int, ...]] = {"in_proj.weight": (2 * inner, d)}
        out |= {"in_proj.bias": (2 * inner,)} if args["bias"] else {}
        out["conv1d.weight"] = (inner, 1, int(args["d_conv"]))
        out |= {"conv1d.bias": (inner,)} if args["conv_bias"] else {}
        out["x_proj.weight"] = (r + 2 * n, inner)
        out["dt_proj.weight"] = (inner, r)
        out["dt_proj.bias"] = (inner,)
        out["A_log"] = (inner, n)
        out["D"] = (inner,)
        out["out_proj.weight"] = (d, inner)
        out |= {"out_proj.bias": (d,)} if args["bias"] else {}
        return out

    def infer(self, p: MambaParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        d = check_given(p.d_model, x.shape[2], "d_model", x, 2, "features per step")
        if p.dt_min >= p.dt_max:
            swap = f"swap them (dt_min: {p.dt_max:g}, dt_max: {p.dt_min:g}), or " if p.dt_min > p.dt_max else ""
            raise SpecError("V174", f"dt_min {p.dt_min:g} is not below dt_max {p.dt_max:g}: dt_proj's bias starts at "
                            "steps drawn between them, an empty range",
                            f"{swap}set dt_max: {p.dt_min * 100:g} (mamba_ssm's steps span 0.001 to 0.1)",
                            field="dt_min")
        inner = p.expand * d
        if p.d_inner is not None and p.d_inner != inner and "expand" in p.model_fields_set:
            raise SpecError("V175", f"d_inner {p.d_inner} is not expand {p.expand} · d_model {d} = {inner}: the two "
                            "say different inner widths",
                            f"omit expand (d_inner gives the inner width), or set d_inner: {inner}",
                            field="d_inner")
        inner = p.d_inner or inner
        r = math.ceil(d / 16) if p.dt_rank == "auto" else p.dt_rank
        n = p.d_state
        args: dict[str, Any] = {
            "d_model": d, "d_inner": inner, "d_state": n, "d_conv": p.d_conv, "dt_rank": r,
            "conv_bias": p.conv_bias, "bias": p.bias, "dt_min": float(p.dt_min), "dt_max": float(p.dt_max),
            "dt_init_floor": float(p.dt_init_floor), "dt_scale": float(p.dt_scale), "dt_init": p.dt_init}
        params = sum(math.prod(s) for s in self.weights(args).values())
        per_step = (2 * inner * d + inner * p.d_conv + inner * (r + 2 * n) + r * inner + 3 * inner * n
                    + inner * d)
        return LayerResult(TensorType(x.shape, x.dtype, x.notes), args, params, mul(x.shape[1], per_step))
