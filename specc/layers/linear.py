"""Linear (Keras: Dense), which acts on the last dim of a tensor of any rank, and MixtureOfExperts, the
sparse mixture of feed-forward experts that routes each token to its top-k (Mixtral, Switch, Qwen-MoE)."""

from typing import Any, Literal

from pydantic import AliasChoices, Field, PositiveInt

from ..diagnostics import SpecError
from ..shapes.dims import mul, product
from ..shapes.tensor import TensorType
from .base import LINEAR_OVER_WIDTH, LayerKind, LayerParams, LayerResult, check_given, register
from .reparam import SpectralNorm, WeightNorm, reparam


class MadeParams(LayerParams):
    """MADE's mask (Germain et al. 2015, "MADE: Masked Autoencoder for Distribution Estimation"), with the
    degrees nflows' MADE gives without random_mask: the inputs 1..features in their order, hidden unit k
    k % (features - 1) + 1, and output unit j the degree j // (out_features / features) + 1 (each input's
    outputs side by side).  A hidden unit reads the units of degree at most its own, an output the units
    of degree strictly below its own, so output d depends on inputs 1..d - 1 alone."""

    features: int = Field(ge=2, description="D, the autoregressive inputs (nflows' autoregressive_features)")
    role: Literal["input", "hidden", "output"] = Field(
        "hidden", description="input: the first layer, reading the D inputs; hidden: between hidden layers; "
        "output: the last, out_features a multiple of D (nflows' output_multiplier)")


class LinearParams(LayerParams):
    out_features: PositiveInt = Field(validation_alias=AliasChoices("out_features", "units"))
    in_features: PositiveInt | None = None
    bias: bool = Field(True, validation_alias=AliasChoices("bias", "use_bias"))
    weight_norm: WeightNorm = False
    spectral_norm: SpectralNorm = False
    # MADE's autoregressive mask on the weight (a fixed buffer, as nflows' MaskedLinear registers it)
    made: MadeParams | None = None


def made_degrees(n: int, features: int, kind: str) -> list[int]:
    """The degrees of ``n`` units: "input" 1..features, "hidden" k % (features - 1) + 1, "output" each
    input's n / features outputs side by side (nflows' _get_input_degrees, arange % max_ + min_, tile)."""
    if kind == "input":
        return list(range(1, n + 1))
    if kind == "hidden":
        return [k % (features - 1) + 1 for k in range(n)]
    return [j // (n // features) + 1 for j in range(n)]


def made_mask(n_in: int, n_out: int, features: int, role: str) -> list[list[int]]:
    """MADE's (out, in) mask of a layer of this role: 1 where output unit o may read input unit i."""
    ins = made_degrees(n_in, features, "input" if role == "input" else "hidden")
    outs = made_degrees(n_out, features, "output" if role == "output" else "hidden")
    if role == "output":
        return [[int(o > i) for i in ins] for o in outs]
    return [[int(o >= i) for i in ins] for o in outs]


def _check_made(m: MadeParams, n_in: int, n_out: int, p: LinearParams) -> None:
    """V172: a MADE layer whose widths do not fit its role (the input layer reads the D inputs, the
    output layer writes a whole number of outputs per input); V051 with another key reworking the weight."""
    other = "weight_norm" if p.weight_norm else "spectral_norm" if p.spectral_norm else None
    if other:
        raise SpecError("V051", f"made and {other} both rework this layer's weight", f"keep one: remove {other} "
                        "(nflows' MADE masks a plain weight)", field=other)
    if m.role == "input" and n_in != m.features:
        raise SpecError("V172", f"a MADE input layer reads the {m.features} autoregressive inputs (degrees 1.."
                        f"{m.features}), but this one reads {n_in} features",
                        f"set made: {{features: {n_in}, role: input}} if the layer reads every input, or feed it "
                        "the inputs themselves", field="made")
    if m.role == "output" and n_out % m.features:
        k = max(1, round(n_out / m.features))
        raise SpecError("V172", f"a MADE output layer writes the same number of outputs for each of the "
                        f"{m.features} inputs, but out_features {n_out} is not a multiple of {m.features}",
                        f"set out_features: {k * m.features} ({k} per input, nflows' output_multiplier)",
                        field="out_features")


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
        if p.made is not None:
            _check_made(p.made, n_in, p.out_features, p)
            # the mask is a buffer of the weight's shape, as nflows' MaskedLinear registers it
            norm, buffers = {"made": {"features": p.made.features, "role": p.made.role}}, n_in * p.out_features
        return LayerResult(out, {"in_features": n_in, "out_features": p.out_features, "bias": p.bias} | norm,
                           params + more, mul(positions, n_in * p.out_features), buffers)


# -- the sparse mixture of experts ---------------------------------------------------------------------

# The expert's activation: Mixtral, Qwen-MoE, OLMoE and DeepSeek-MoE gate a SiLU, Switch and the T5
# family run a plain ReLU (wi, wo); GELU for the GPT-style MoEs.
ExpertActivation = Literal["silu", "gelu", "gelu_tanh", "relu"]


class MixtureOfExpertsParams(LayerParams):
    num_experts: PositiveInt = Field(validation_alias=AliasChoices("num_experts", "num_local_experts"),
                                     examples=[8])
    top_k: PositiveInt = Field(validation_alias=AliasChoices("top_k", "num_experts_per_tok"), examples=[2])
    hidden_features: PositiveInt = Field(validation_alias=AliasChoices(
        "hidden_features", "moe_intermediate_size", "intermediate_size", "d_ff"), examples=[14336])
    in_features: PositiveInt | None = Field(None, validation_alias=AliasChoices("in_features", "hidden_size"))
    activation: ExpertActivation = Field("silu", validation_alias=AliasChoices("activation", "hidden_act"))
    gated: bool = True  # act(w1 x) * w3 x (SwiGLU), else act(w1 x)
    bias: bool = False  # the experts' Linears; the router never has one
    # Mixtral renormalises the k probabilities to sum to 1 (the same as top-k of the logits, then a
    # softmax over the k); Qwen-MoE and OLMoE (norm_topk_prob: false) and Switch keep them as they are.
    normalize: bool = Field(True, validation_alias=AliasChoices("normalize", "norm_topk_prob"))
    # Qwen2-MoE's shared expert: one more gated MLP every token goes through, scaled by
    # sigmoid(shared_expert_gate(x)) (shared_gate: false, DeepSeek-MoE's ungated shared experts).
    shared_features: PositiveInt | None = Field(None, validation_alias=AliasChoices(
        "shared_features", "shared_expert_intermediate_size"))
    shared_gate: bool = True


def expert_weights(prefix: str, d: int, ff: int, gated: bool, bias: bool) -> dict[str, tuple[int, ...]]:
    """One expert MLP's tensors, by Mixtral's names: w1 (gate) and w3 (up) d -> ff, w2 (down) ff -> d."""
    out: dict[str, tuple[int, ...]] = {}
    for name, shape in (("w1", (ff, d)), ("w2", (d, ff)), ("w3", (ff, d))):
        if name == "w3" and not gated:
            continue
        out[f"{prefix}.{name}.weight"] = shape
        if bias:
            out[f"{prefix}.{name}.bias"] = shape[:1]
    return out


@register
class MixtureOfExperts(LayerKind):
    """A sparse mixture of feed-forward experts (Shazeer et al. 2017; Mixtral 2024, Switch Transformer
    2021, Qwen-MoE, OLMoE): a router ``gate`` (a Linear without bias) scores ``num_experts`` experts per
    token, the softmax of the scores picks the ``top_k`` largest, and the token's output is the sum of
    those experts' outputs weighted by their probabilities (renormalised over the k with
    ``normalize: true``, Mixtral's; taken as they are with ``normalize: false``, Switch's top-1 and
    Qwen-MoE's). Each expert is an MLP of ``hidden_features``: ``w2(act(w1 x) * w3 x)`` when ``gated``
    (SwiGLU, Mixtral's), ``w2(act(w1 x))`` otherwise (Switch's ``wo(relu(wi x))``). ``shared_features``
    adds Qwen2-MoE's shared expert, run on every token and scaled by ``sigmoid(shared_expert_gate(x))``
    (``shared_gate: false``: DeepSeek-MoE's, unscaled). Tensors carry Mixtral's checkpoint names
    (``gate.weight``, ``experts.{i}.w1/w2/w3.weight``), so a Mixtral state dict loads as it is.
    The input is tokens, features last: (N, F) or (N, T, F)."""

    type_name, Params = "MixtureOfExperts", MixtureOfExpertsParams
    layout = "(N, F) or (N, T, F)"
    aliases = ("SparseMoE",)
    summary = ("sparse mixture of expert MLPs: each token routed to its top_k of num_experts by a softmax "
               "router (Mixtral, Switch, Qwen-MoE)")

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        d, e, ff = int(args["in_features"]), int(args["num_experts"]), int(args["hidden_features"])
        gated, bias = bool(args["gated"]), bool(args["bias"])
        out = {"gate.weight": (e, d)}
        for i in range(e):
            out |= expert_weights(f"experts.{i}", d, ff, gated, bias)
        if args["shared_features"] is not None:
            out |= expert_weights("shared_expert", d, int(args["shared_features"]), gated, bias)
            if args["shared_gate"]:
                out["shared_expert_gate.weight"] = (1, d)
        return out

    def infer(self, p: MixtureOfExpertsParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if x.rank < 2:
            raise SpecError("S003", f"a mixture of experts routes tokens, (N, F) or (N, T, F), but its input {x} "
                            "has only the batch dim", "add a feature dim with - {type: Unsqueeze, dim: 1} before it")
        if x.rank > 3:
            raise SpecError("S003", f"a mixture of experts routes each token by the features in its last dim, but "
                            f"its input {x} is a map: its last dim is a side of it, not features",
                            "make the positions tokens first: - {type: Flatten, start_dim: 2} then - {type: "
                            "Transpose, dim0: 1, dim1: 2} gives (B, H·W, C)")
        if p.top_k > p.num_experts:
            raise SpecError("V155", f"top_k is {p.top_k} but there are only {p.num_experts} experts to route "
                            "each token to", f"set top_k: {p.num_experts} or fewer (Mixtral routes to 2 of 8)",
                            field="top_k")
        d = check_given(p.in_features, x.shape[-1], "in_features", x, -1, "features in its last dim")
        e, ff, k = p.num_experts, p.hidden_features, p.top_k
        per_expert = (3 if p.gated else 2) * d * ff + ((2 * ff + d) if p.gated else (ff + d)) * p.bias
        shared = 0
        shared_macs = 0
        if p.shared_features is not None:
            sf = p.shared_features
            shared = (3 if p.gated else 2) * d * sf + ((2 * sf + d) if p.gated else (sf + d)) * p.bias
            shared_macs = (3 if p.gated else 2) * d * sf + (d if p.shared_gate else 0)
            shared += d if p.shared_gate else 0
        params = d * e + e * per_expert + shared
        # a token runs the router and its k experts only: k/E of the experts' dense cost
        macs = d * e + k * (3 if p.gated else 2) * d * ff + shared_macs
        args = {"in_features": d, "num_experts": e, "top_k": k, "hidden_features": ff, "activation": p.activation,
                "gated": p.gated, "bias": p.bias, "normalize": p.normalize, "shared_features": p.shared_features,
                "shared_gate": p.shared_gate}
        out = TensorType(x.shape, x.dtype)
        return LayerResult(out, args, params, mul(product(x.shape[1:-1]), macs))
