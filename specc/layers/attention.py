"""Attention: MultiheadAttention, TransformerEncoderLayer / TransformerEncoder,
TransformerDecoderLayer / TransformerDecoder, PositionalEncoding, ClassToken.

Sequences are (B, T, E) with ``batch_first`` (specc's default), else (T, B, E).

Masks are extra inputs, declared in the order they follow the query/key/value inputs:
``masks: [key_padding]`` reads ``from: [x, pad_mask]``; ``masks: [key_padding, attn]`` reads
``from: [q, kv, pad_mask, attn_mask]``.  A key-padding mask is (B, S), true (or -inf) where
a key is padding; an attention mask is (T, S) or (B·num_heads, T, S), as in PyTorch, or (num_heads, T, S),
one bias per head shared by every sample (T5's relative position bias, Swin's table): it is repeated
over the batch as nn.MultiheadAttention wants it.

MACs per sample count the matrix products, with T query steps and S key steps:
q/k/v projections T·E² + S·E·(kdim + vdim), scores and weighted sum 2·T·S·E, output
projection T·E².  A Transformer encoder layer adds its feed-forward 2·T·E·F and two
LayerNorms (5 ops per element, as the LayerNorm kind counts them).  A decoder layer reads the
target (T steps) and a named memory (S steps, ``from: [tgt, memory]``): self-attention on the
target 4·T·E² + 2·T²·E, cross-attention 2·T·E² + 2·S·E² + 2·T·S·E, the feed-forward 2·T·E·F and
three LayerNorms.

``rotary:`` (rotary position embeddings, ``scaling:`` for longer contexts) and ``num_kv_heads:``
(grouped-query attention) make a MultiheadAttention the attention of LLaMA, Mistral and GPT-NeoX
(``grouped_attention``), and so do ``head_dim:`` (Gemma's heads wider than embed_dim / num_heads),
``window:`` (Mistral's sliding window), ``local_window:`` (ModernBERT's bidirectional local attention),
``softcap:`` (Gemma 2's tanh bound on the scores), ``qk_norm:`` (Qwen3's, OLMo-2's and Gemma 3's RMSNorm on
the queries and keys before the rotary; Cohere's LayerNorm of each head, Llama 4's weightless L2 norm),
``clip_qkv:`` (OLMo's and DBRX's clamp of the q/k/v projections to ±clip_qkv) and
``bias: {qkv, out}`` (Qwen2's biases on q/k/v alone):
q/k/v/o projections of their own, Hugging Face's names, MACs T·2·E·H·head_dim +
S·kv_heads·head_dim·(kdim + vdim) + 2·T·S·H·head_dim.

``causal: true`` (self-attention, encoder and decoder layers) keeps step t from attending to
later steps: the generated forward builds the (T, T) mask from the length it is given, so one
model runs, and exports, at every T.
"""

import math
from typing import Any, Literal

from pydantic import AliasChoices, ConfigDict, Field, PositiveFloat, PositiveInt, field_validator

from ..diagnostics import SpecError, yaml_flow
from ..shapes.dims import Dim, DimLike, add, mul
from ..shapes.tensor import TensorType
from .base import Form, LayerKind, LayerParams, LayerResult, Requirement, check_given, register
from .hints import EMBED_IDS, divisor_hint, sequence_hint
from .recurrent import seq_axes

Mask = Literal["key_padding", "attn"]


def _unique_masks(v: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(v)) != len(v):
        raise ValueError("each mask can be given once")
    return v


def check_heads(size: int, heads: int, size_field: str, heads_field: str, own_width: bool = False) -> None:
    """``own_width``: the attention could take head_dim: instead (LLaMA's projections)."""
    if size % heads:
        other = (" (or give each head its own width with head_dim:, as Gemma's 16 heads of 256 in 3072 "
                 "features)") if own_width else ""
        raise SpecError("S004", f"{size_field} {size} is not divisible by {heads_field} {heads}: each head "
                        "takes an equal share of the features", divisor_hint(size, heads, size_field) + other,
                        field=heads_field)


def flattened_positions(x: TensorType) -> str | None:
    """How the last dim of ``x`` was made when it is a flattened map's positions ("14·14", from
    Flatten start_dim: 2): in a (B, T, E) sequence those belong in dim 1, as the steps."""
    why = x.note(2) if x.rank == 3 else None
    # A bidirectional RNN's width also has a product note, "2·64 (both directions)": features.
    return why if why and "·" in why and " (" not in why else None


def check_features_last(x: TensorType, size: int, heads: int, size_field: str, heads_field: str,
                        batch_first: bool) -> None:
    """(B, C, L) from a conv or a Flatten(start_dim=2) has its features in dim 1: when only that
    width fits the heads, or the last dim is a flattened map's positions, the layout, not the
    head count, is the mistake."""
    if not batch_first or size % heads == 0:
        return
    c = x.shape[1]
    if isinstance(c, int) and c % heads == 0:
        raise SpecError("S004", f"{size_field} {size} is not divisible by {heads_field} {heads}, and the input {x} "
                        f"looks like (B, features, steps) with {c} features", "if so, put the features last with "
                        f"- {{type: Transpose, dim0: 1, dim1: 2}} before this layer ({size_field} becomes {c}); "
                        f"else {divisor_hint(size, heads, size_field)}", field=heads_field)
    positions = flattened_positions(x)
    if positions:
        # E.g. a ClassToken prepended to the untransposed map: dim 1 is then channels + 1.
        raise SpecError("S004", f"{size_field} {size} is not divisible by {heads_field} {heads}, and the last dim "
                        f"of the input {x} is {positions}: a flattened map's positions, not features",
                        "if so, put the features last with - {type: Transpose, dim0: 1, dim1: 2} right after the "
                        f"Flatten (before any ClassToken); else {divisor_hint(size, heads, size_field)}",
                        field=heads_field)


def _check_float(t: TensorType, what: str, masks: tuple[str, ...], order: str) -> None:
    """``order``: what ``from:`` lists before the masks, for the hint on a mask read in its place."""
    if t.is_float:
        return
    if t.dtype != "bool":
        hint = EMBED_IDS
    elif masks:  # the mask written before the sequence in from:
        hint = (f"bool values are a mask: from: lists {order} first, then the masks in the order of masks: "
                f"{yaml_flow(list(masks))}")
    else:
        hint = (f"bool values are a mask: list it after {order} in from: and name it in masks: ([key_padding] for "
                "a (B, T) padding mask, true at the padding)")
    raise SpecError("S007", f"the {what} is {t.dtype} data {t}, but attention works on floats", hint)


def check_masks(masks: tuple[str, ...], tensors: list[TensorType], batch: DimLike, t_len: DimLike,
                s_len: DimLike, heads: int, per_head: bool = False) -> None:
    """Masks must be bool or float, key_padding (B, S), attn (T, S) or (B·heads, T, S), and with
    ``per_head`` (heads, T, S), the same for every sample."""
    for name, m in zip(masks, tensors):
        if m.dtype not in ("bool", "float32", "float16", "bfloat16", "float64"):
            raise SpecError("S007", f"the {name} mask is {m.dtype}; masks are bool (true = masked) or float "
                            "(added to the scores)", "declare it with dtype: bool", field="masks")
        if name.endswith("key_padding"):
            wants = [(batch, s_len)]
        else:
            wants = [(t_len, s_len), (mul(batch, heads), t_len, s_len)] + [(heads, t_len, s_len)] * per_head
        if per_head and m.rank == 3 and isinstance(m.shape[0], int) and m.shape[1:] == (t_len, s_len) \
                and m.shape not in wants:
            raise SpecError("S001", f"the {name} mask {m} is a bias for {m.shape[0]} heads, but this layer has "
                            f"{heads}", f"make the bias for {heads} heads (num_heads: {heads} on an ALiBi, "
                            f"embedding_dim: {heads} on the Embedding of a bias table)", field="masks")
        if per_head and m.rank == 3 and m.shape == (t_len, s_len, heads) and m.shape[0] != heads:
            raise SpecError("S001", f"the {name} mask {m} has its heads last, as an Embedding of the ids gives them, "
                            "but this layer takes one bias per head as (heads, T, S)",
                            "move the heads first ({type: Permute, dims: [2, 0, 1]} after the Embedding)",
                            field="masks")
        if per_head and m.rank == 4 and m.shape[1:] == (heads, t_len, s_len) and m.shape[0] in (1, batch):
            one = m.shape[0] == 1
            raise SpecError("S001", f"the {name} mask {m} has Hugging Face's ({'1' if one else 'B'}, heads, T, S) "
                            "layout, but this layer takes (heads, T, S) or (B·heads, T, S)",
                            "squeeze its dim 0 ({type: Squeeze, dim: 0} after the layer that makes it)" if one else
                            "merge its first two dims ({type: Flatten, start_dim: 0, end_dim: 1} after the layer "
                            "that makes it)", field="masks")
        if m.shape not in wants:
            shown = " or ".join(str(TensorType(w)) for w in wants)
            raise SpecError("S001", f"the {name} mask is {m} but this layer needs {shown}",
                            f"declare the {name} mask as {shown.split(' or ')[0]}", field="masks")


def check_causal(causal: bool, masks: tuple[str, ...], t_len: DimLike, s_len: DimLike, mask: str = "attn") -> None:
    """A causal mask is (T, T): step t sees steps 0..t of the same sequence, so the keys must be
    as many as the queries, and it is the attention mask (a second one would be ignored)."""
    if not causal:
        return
    if mask in masks:
        raise SpecError("V038", f"causal: true builds the attention mask, and masks: also lists '{mask}'",
                        f"drop '{mask}' from masks: and its input from from: (or set causal: false to keep "
                        "your own mask)", field="causal")
    if t_len != s_len:
        raise SpecError("S022", f"causal: true masks later steps of one sequence, but the queries have {t_len} "
                        f"steps and the keys {s_len}", "use causal: true on self-attention (from: [x]); "
                        "cross-attention reads the whole key sequence: set causal: false", field="causal")


def bool_padding(masks: tuple[str, ...], tensors: list[TensorType], name: str = "key_padding") -> bool:
    """Whether the key-padding mask the causal mask joins is bool: PyTorch wants the two of one
    type (it warns, and converts, otherwise), so the causal mask is then written as bool too."""
    return any(m == name and t.dtype == "bool" for m, t in zip(masks, tensors))


def float_attn(masks: tuple[str, ...], tensors: list[TensorType]) -> bool:
    """Whether a bool key-padding mask meets a float attention mask of the user's (T5's position
    bias): PyTorch deprecates mixing the two types, so forward writes the padding as 0 / -inf."""
    return bool_padding(masks, tensors) and any(m == "attn" and t.dtype != "bool" for m, t in zip(masks, tensors))


def _either_name(schema: dict[str, Any], name: str, alias: str) -> None:
    """A nested model's JSON schema taking a required key under its alias too (a layer's own keys
    get this from specc's schema builder, which does not reach nested models)."""
    props = schema.setdefault("properties", {})
    props[alias] = dict(props[name])
    schema["required"] = [r for r in schema.get("required", []) if r != name]
    schema["oneOf"] = [{"required": [name]}, {"required": [alias]}]


class RotaryScaling(LayerParams):
    """How rotary angles stretch past the trained context (Hugging Face's ``rope_scaling``):
    ``linear`` divides every frequency by ``factor`` (position interpolation); ``llama3`` (LLaMA 3.1)
    divides the frequencies whose wavelength exceeds original_max_position_embeddings / low_freq_factor
    by ``factor``, keeps those shorter than original_max_position_embeddings / high_freq_factor, and
    blends the band between; ``yarn`` (Qwen2.5's long context, DeepSeek) divides the slow pairs by
    ``factor``, keeps the fast ones (the ramp between set by beta_fast and beta_slow) and scales cos and
    sin by an attention factor; ``longrope`` (Phi-3 128K) divides each pair by its own short_factor, or
    long_factor once the sequence is longer than original_max_position_embeddings, and scales cos and
    sin likewise."""

    # type, or Hugging Face's rope_type: the JSON schema (specc schema) takes either, one of them
    model_config = ConfigDict(**LayerParams.model_config,
                              json_schema_extra=lambda schema: _either_name(schema, "type", "rope_type"))

    type: Literal["linear", "llama3", "yarn", "longrope"] = Field(validation_alias=AliasChoices("type", "rope_type"))
    factor: PositiveFloat | None = None
    low_freq_factor: PositiveFloat | None = None
    high_freq_factor: PositiveFloat | None = None
    original_max_position_embeddings: PositiveInt | None = None
    # yarn's ramp: pairs turning more than beta_fast times over the trained context keep their frequency,
    # those turning fewer than beta_slow times are divided by factor (Hugging Face's defaults 32 and 1)
    beta_fast: PositiveFloat | None = None
    beta_slow: PositiveFloat | None = None
    # what multiplies cos and sin (yarn, longrope); None: computed from factor as Hugging Face does
    attention_factor: PositiveFloat | None = None
    mscale: PositiveFloat | None = None
    mscale_all_dim: PositiveFloat | None = None
    truncate: bool | None = None  # yarn: the ramp's ends rounded to whole pairs (Hugging Face's default true)
    short_factor: tuple[PositiveFloat, ...] | None = None
    long_factor: tuple[PositiveFloat, ...] | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _offered(cls, v: Any) -> Any:
        """Hugging Face's other rope types, named with what to write instead."""
        if v == "default":
            raise ValueError("scaling type default is no scaling; drop scaling: from rotary:")
        if v == "dynamic":
            raise ValueError("scaling type dynamic is not offered: its angles depend on the longest sequence the "
                             "module has seen so far, a state, not on the settings and the sequence alone; write "
                             "type: yarn (NTK-aware, static), type: linear (position interpolation) or type: llama3")
        return v


# the keys each scaling type needs besides its type, in Hugging Face's order, then those it may take
SCALING_KEYS = {"linear": ("factor",),
                "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
                "yarn": ("factor", "original_max_position_embeddings"),
                "longrope": ("short_factor", "long_factor", "original_max_position_embeddings")}
SCALING_OPTIONAL = {"yarn": ("beta_fast", "beta_slow", "attention_factor", "mscale", "mscale_all_dim", "truncate"),
                    "longrope": ("factor", "attention_factor")}
# what each type's V131 hint proposes: a published model's rope_scaling
SCALING_EXAMPLE = {
    "linear": "scaling: {type: linear, factor: 4}",
    "llama3": ("scaling: {type: llama3, factor: 8, low_freq_factor: 1, high_freq_factor: 4, "
               "original_max_position_embeddings: 8192} (LLaMA 3.1)"),
    "yarn": "scaling: {type: yarn, factor: 4, original_max_position_embeddings: 32768} (Qwen2.5's 128K)",
    "longrope": ("scaling: {type: longrope, short_factor: [...], long_factor: [...], factor: 32, "
                 "original_max_position_embeddings: 4096} (Phi-3-mini-128k: a factor per pair of the rotary)"),
}


class AttentionBias(LayerParams):
    """The biases of the query/key/value projections and of the output projection apart: Qwen2 has
    them on q_proj, k_proj and v_proj but none on o_proj (``{qkv: true, out: false}``)."""

    qkv: bool = True
    out: bool = True


class RotaryParams(LayerParams):
    """Rotary position embeddings (RoFormer; LLaMA, Mistral, GPT-NeoX): each query and key head's
    first ``dim`` features turned by angles position·base^(-2i/dim)."""

    base: PositiveFloat = 10000.0  # theta: HF's rope_theta (LLaMA 3: 500000)
    # features of each head that turn: None is all of head_dim; GPT-NeoX rotary_pct·head_dim, GPT-J rotary_dim.
    # A fraction (rotary_pct written here) is read so that check can give the dim it means (S040).
    dim: PositiveInt | PositiveFloat | None = None
    # pairs (0, 1), (2, 3)... as GPT-J and Meta's LLaMA code; false: (i, i + dim/2), HF's rotate_half
    interleaved: bool = False
    # longer contexts than the model was trained on: Hugging Face's rope_scaling, under the rotary it scales
    scaling: RotaryScaling | None = None


class QKNorm(LayerParams):
    """A norm on the queries and keys before the rotary (Hugging Face's q_norm / k_norm).  ``type: rms`` is
    an RMSNorm (Qwen3, OLMo-2, Gemma 3), ``type: layer`` a LayerNorm without bias, the mean taken out first
    (Cohere's Command R+, StableLM 2 12B's qk_layernorm), ``type: l2`` an RMSNorm with no weight at all
    (Llama 4's L2Norm: x / sqrt(mean(x²) + eps)).  ``over: head`` normalises each head's head_dim features
    with one weight of head_dim shared by the heads (Qwen3, Gemma 3), or with ``per_head: true`` a weight of
    its own for each head, (num_heads, head_dim) for q and (num_kv_heads, head_dim) for k (Cohere);
    ``over: all`` the whole projection, num_heads·head_dim for q and num_kv_heads·head_dim for k (OLMo-2).
    ``add_unit_offset`` scales by 1 + weight (Gemma's RMSNorm, the weight starting at 0).
    ``dim``, when given, is the width the norm is over as the model's code writes it (Qwen3's
    RMSNorm(head_dim)): check holds it to the width ``over`` means."""

    type: Literal["rms", "layer", "l2"] = "rms"
    over: Literal["head", "all"] = "head"
    eps: PositiveFloat = 1e-6  # rms_norm_eps of Qwen3, OLMo-2 and Gemma 3 (Cohere's and Llama 4's: 1e-5)
    add_unit_offset: bool = False
    per_head: bool = False
    dim: PositiveInt | None = None


class MultiheadAttentionParams(LayerParams):
    num_heads: PositiveInt = Field(validation_alias=AliasChoices("num_heads", "nhead"))
    # grouped-query attention: key/value heads, each shared by num_heads / num_kv_heads query heads
    num_kv_heads: PositiveInt | None = Field(None, validation_alias=AliasChoices("num_kv_heads",
                                                                                "num_key_value_heads"))
    rotary: RotaryParams | None = None

    @field_validator("rotary", mode="before")
    @classmethod
    def _rotary_flag(cls, v: Any) -> Any:
        """``rotary: true`` is LLaMA's defaults, ``rotary: false`` none."""
        return {} if v is True else None if v is False else v
    embed_dim: PositiveInt | None = None
    # features of each head, when not embed_dim / num_heads (Gemma: 3072 wide, 16 heads of 256)
    head_dim: PositiveInt | None = None
    # sliding-window causal attention (Mistral): a query sees at most its last `window` keys, itself included
    window: PositiveInt | None = Field(None, validation_alias=AliasChoices("window", "sliding_window"),
                                       examples=[4096])  # Mistral 7B's: what a wrong value's hint proposes
    # ModernBERT's local attention, bidirectional: a query sees the keys within local_window // 2 steps on
    # either side (Hugging Face's local_attention, 128: 64 each way)
    local_window: PositiveInt | None = Field(None, validation_alias=AliasChoices("local_window", "local_attention"),
                                             examples=[128])
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    bias: bool | AttentionBias = True
    add_bias_kv: bool = False
    add_zero_attn: bool = False
    kdim: PositiveInt | None = None
    vdim: PositiveInt | None = None
    batch_first: bool = True
    causal: bool = False
    masks: tuple[Mask, ...] = ()
    # what multiplies q·kᵀ: None is PyTorch's 1/√(embed_dim / num_heads); T5 attends with 1.0
    scale: PositiveFloat | None = None
    # Gemma 2's attention-logit softcapping: the scaled scores become tanh(scores / softcap)·softcap, kept
    # within ±softcap, before the masks (Hugging Face's attn_logit_softcapping, 50.0 in Gemma 2)
    softcap: PositiveFloat | None = Field(None, validation_alias=AliasChoices("softcap", "attn_logit_softcapping"),
                                          examples=[50.0])

    # Qwen3, OLMo-2, Gemma 3: the queries and keys RMS-normalised before the rotary (true: Qwen3's, per head)
    qk_norm: QKNorm | None = None

    @field_validator("qk_norm", mode="before")
    @classmethod
    def _qk_norm_flag(cls, v: Any) -> Any:
        """``qk_norm: true`` is Qwen3's (per head, eps 1e-6), ``qk_norm: false`` none."""
        return {} if v is True else None if v is False else v

    # OLMo (OLMo-7B-0424: 8.0) and DBRX: each of q_proj's, k_proj's and v_proj's outputs clamped to ±clip_qkv
    clip_qkv: PositiveFloat | None = Field(None, examples=[8.0])

    _masks = field_validator("masks")(_unique_masks)


@register
class MultiheadAttention(LayerKind):
    type_name = "MultiheadAttention"
    Params = MultiheadAttentionParams
    min_inputs, max_inputs = 1, 5
    accepts = "any"  # masks may be bool; query/key/value are checked below
    summary = ("multi-head attention: self (one input) or cross (from: [query, key_value] or [q, k, v]); "
               "rotary:, num_kv_heads:, head_dim:, window:, softcap:, local_window:, qk_norm:, clip_qkv: or bias: "
               "{qkv, out} make it LLaMA's (rotary positions, grouped-query heads, Gemma's head width, Mistral's "
               "sliding window, Gemma 2's softcapped scores, Qwen3's normalised queries and keys, OLMo's clipped "
               "projections, Qwen2's biases); local_window: is "
               "ModernBERT's bidirectional local attention")
    form = "call"  # query, key and value

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        if "num_kv_heads" in args:
            return grouped_weights(args)
        return attention_weights(int(args["embed_dim"]), bool(args["bias"]), args.get("kdim"), args.get("vdim"),
                                 bool(args.get("add_bias_kv")))

    def infer(self, p: MultiheadAttentionParams, ins: list[TensorType]) -> LayerResult:
        n_qkv = len(ins) - len(p.masks)
        if not 1 <= n_qkv <= 3:
            raise SpecError("G003", f"MultiheadAttention reads 1 to 3 of query/key/value plus {len(p.masks)} "
                            f"mask{'s' if len(p.masks) != 1 else ''}, but got {len(ins)} inputs",
                            "from: [x] (self), [query, key_value] or [query, key, value], then the masks in "
                            "the order of masks:", field="masks")
        q = ins[0]
        k = ins[1] if n_qkv >= 2 else q
        v = ins[2] if n_qkv == 3 else k
        for t, what in ((q, "query"), (k, "key"), (v, "value")):
            _check_float(t, what, p.masks, "the query, key and value it reads")
            if t.rank != 3:
                raise SpecError("S003", f"the {what} must be (B, T, E) (or (T, B, E) with batch_first: false), "
                                f"got rank {t.rank} {t}", sequence_hint(t))
        e = check_given(p.embed_dim, q.shape[2], "embed_dim", q, 2, "features per step")
        if p.head_dim is None:  # with head_dim each head has its own width, whatever embed_dim is
            check_features_last(q, e, p.num_heads, "embed_dim", "num_heads", p.batch_first)
            check_heads(e, p.num_heads, "embed_dim", "num_heads", own_width=bool(llama_keys(p)))
        kdim = check_given(p.kdim, k.shape[2], "kdim", k, 2, "features per key step")
        vdim = check_given(p.vdim, v.shape[2], "vdim", v, 2, "features per value step")
        batch, t_len = seq_axes(q, p.batch_first)
        kb, s_len = seq_axes(k, p.batch_first)
        vb, vs = seq_axes(v, p.batch_first)
        for other, what in ((kb, "key"), (vb, "value")):
            if other != batch:
                raise SpecError("S010" if isinstance(other, Dim) or isinstance(batch, Dim) else "S006",
                                f"the {what} has batch size {other} but the query has {batch}",
                                "feed query, key and value from the same batch")
        if vs != s_len:
            raise SpecError("S010" if isinstance(vs, Dim) or isinstance(s_len, Dim) else "S006",
                            f"key {k} and value {v} have different lengths ({s_len} vs {vs})",
                            "key and value must have one step per key position")
        if llama_keys(p):
            return grouped_attention(p, q, e, kdim, vdim, (batch, t_len, s_len), ins[n_qkv:])
        check_masks(p.masks, ins[n_qkv:], batch, t_len, s_len, p.num_heads, per_head=True)
        # a float attn mask is a bias (T5's decoder, ALiBi) that the causal mask is added to; a bool one
        # would be a second mask of which PyTorch reads one
        biases = [n for n, m in zip(p.masks, ins[n_qkv:]) if n == "attn" and m.is_float]
        check_causal(p.causal, tuple(n for n in p.masks if n not in biases), t_len, s_len)

        same = kdim == e and vdim == e  # PyTorch then packs q/k/v into one in_proj_weight
        params = 3 * e * e if same else e * e + e * kdim + e * vdim
        params += (3 * e + e) if p.bias else 0  # in_proj_bias, out_proj.bias
        params += e * e + (2 * e if p.add_bias_kv else 0)  # out_proj.weight, bias_k/bias_v
        keys = add(s_len, int(p.add_bias_kv) + int(p.add_zero_attn))
        macs = add(add(mul(t_len, 2 * e * e), mul(s_len, e * (kdim + vdim))), mul(mul(t_len, keys), 2 * e))
        args = {"embed_dim": e, "num_heads": p.num_heads, "dropout": float(p.dropout), "bias": p.bias,
                "add_bias_kv": p.add_bias_kv, "add_zero_attn": p.add_zero_attn,
                "kdim": None if same else kdim, "vdim": None if same else vdim, "batch_first": p.batch_first,
                "scale": p.scale, "masks": p.masks, "causal": p.causal,
                "bool_masks": bool_padding(p.masks, ins[n_qkv:]), "float_attn": float_attn(p.masks, ins[n_qkv:])}
        if _head_mask(p, ins[n_qkv:], batch):  # only then: the attributes of every other attention stay as they were
            args["head_mask"] = True
        return LayerResult(TensorType(q.shape, q.dtype, q.notes), args, params, macs)


def _head_mask(p: MultiheadAttentionParams, masks: list[TensorType], batch: DimLike) -> bool:
    """Whether the attn mask is one (heads, T, S) bias for every sample, which the PyTorch target
    repeats over the batch (nn.MultiheadAttention takes (B·heads, T, S))."""
    attn = [m for n, m in zip(p.masks, masks) if n == "attn"]
    return bool(attn) and attn[0].rank == 3 and attn[0].shape[0] == p.num_heads and batch != 1


def grouped_weights(args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The projections of attention with rotary: or num_kv_heads:, one nn.Linear each under the
    names of Hugging Face's LLaMA (q_proj, k_proj, v_proj, o_proj)."""
    e, heads, kv = int(args["embed_dim"]), int(args["num_heads"]), int(args["num_kv_heads"])
    d = int(args.get("head_dim") or e // heads)
    shapes = {"q_proj": (heads * d, e), "k_proj": (kv * d, int(args["kdim"] or e)),
              "v_proj": (kv * d, int(args["vdim"] or e)), "o_proj": (e, heads * d)}
    out_bias = args["bias"] if args.get("out_bias") is None else args["out_bias"]
    out: dict[str, tuple[int, ...]] = {}
    for name, (n_out, n_in) in shapes.items():
        out[f"{name}.weight"] = (n_out, n_in)
        if out_bias if name == "o_proj" else args["bias"]:
            out[f"{name}.bias"] = (n_out,)
    norm = args.get("qk_norm")
    if norm and norm.get("type") != "l2":  # after k_proj as Hugging Face's Qwen3Attention lists them
        if norm.get("per_head"):  # Cohere's CohereLayerNorm((num_heads, head_dim))
            out["q_norm.weight"], out["k_norm.weight"] = (heads, d), (kv, d)
        else:
            per_head = norm["over"] == "head"
            out["q_norm.weight"] = (d,) if per_head else (heads * d,)
            out["k_norm.weight"] = (d,) if per_head else (kv * d,)
    return out


def llama_keys(p: MultiheadAttentionParams) -> list[str]:
    """The keys given that make attention LLaMA's, with separate q/k/v/o projections (which
    nn.MultiheadAttention's packed one cannot be): bias: as a mapping sets q/k/v's apart from o's."""
    keys = [k for k in ("rotary", "num_kv_heads", "head_dim", "window", "local_window", "softcap", "qk_norm",
                        "clip_qkv") if getattr(p, k) is not None]
    return keys + ["bias"] * isinstance(p.bias, AttentionBias)


def _even_dim(d: int, head_dim: int) -> int:
    """The rotary dim nearest to ``d`` that turns whole pairs within a head."""
    return min(d - d % 2, head_dim - head_dim % 2)


def grouped_attention(p: MultiheadAttentionParams, q: TensorType, e: int, kdim: int, vdim: int,
                      axes: tuple[DimLike, DimLike, DimLike], masks: list[TensorType]) -> LayerResult:
    """Attention as LLaMA, Mistral, Qwen2 and Gemma write it: separate q/k/v/o projections,
    ``num_kv_heads`` key/value heads each shared by a group of query heads (grouped-query
    attention; 1 is multi-query), heads of ``head_dim`` features, rotary position embeddings on the
    queries and keys, a sliding ``window``.  ``axes``: the batch and the query and key lengths;
    ``masks``: the mask inputs."""
    batch, t_len, s_len = axes
    what = " and ".join(f"{k}:" for k in llama_keys(p))
    for key, given in (("masks", "attn" in p.masks), ("add_bias_kv", p.add_bias_kv),
                       ("add_zero_attn", p.add_zero_attn)):
        if given:
            if key == "masks":
                why = ("takes no attn mask: its masks are key_padding (B, S) and causal: true, built from the "
                       "length")
                drop = "drop attn from masks: and its input from from:"
            else:
                why = f"has no {key} (the plain attention's extra key/value step)"
                drop = f"set {key}: false"
            raise SpecError("V100", f"attention with {what} (LLaMA's separate q/k/v projections) {why}",
                            f"{drop}, or drop {what} to keep the plain attention that has it", field=key)
    check_masks(p.masks, masks, batch, t_len, s_len, p.num_heads)
    check_causal(p.causal, p.masks, t_len, s_len)
    if p.window is not None and not p.causal:
        raise SpecError("V130", f"a sliding window of {p.window} keeps each query's last {p.window} keys up to "
                        "itself, a causal attention's window, but causal is false",
                        "set causal: true (Mistral's sliding window is causal); without a window every query "
                        "sees every key; for keys on both sides of each query (ModernBERT's local attention) the key "
                        f"is local_window ({2 * p.window} for {p.window} on either side) in place of window",
                        field="window")
    if p.local_window is not None and (p.causal or p.window is not None):
        half = p.local_window // 2
        given = "causal: true" if p.causal else f"window: {p.window}"
        raise SpecError("V158", f"local_window {p.local_window} sees {half} keys on either side of each query "
                        f"(ModernBERT's bidirectional local attention), and {given} also limits the keys: the two "
                        "masks say different things",
                        ("set causal: false for ModernBERT's local attention" if p.causal else
                         "drop window for ModernBERT's local attention")
                        + f"; for a causal window of the last {half + 1} keys, window ({half + 1}) with causal: true "
                        "in place of local_window", field="local_window")
    if p.local_window is not None and t_len != s_len:
        # |i - j| compares positions of one sequence: queries past the keys' end would see no key at all
        # (PyTorch's fused kernel and ONNX Runtime then disagree: a number against nan)
        raise SpecError("S072", f"local_window {p.local_window} keeps the keys within {p.local_window // 2} steps "
                        f"of each query's own position, but the queries have {t_len} steps and the keys {s_len}: "
                        "they are not positions of one sequence, and a query past the keys' end sees none",
                        "use local_window on self-attention (from: [x]), as ModernBERT does; cross-attention "
                        "reads the whole key sequence: drop local_window", field="local_window")
    heads = p.num_heads
    kv = p.num_kv_heads or heads
    if heads % kv:
        divisors = [h for h in range(1, heads + 1) if heads % h == 0]
        near = max(h for h in divisors if h <= kv)
        raise SpecError("S004", f"num_heads {heads} is not divisible by num_kv_heads {kv}: each key/value head "
                        "serves an equal group of query heads",
                        f"set num_kv_heads: {near} (num_heads {heads} has the divisors "
                        f"{', '.join(map(str, divisors))})", field="num_kv_heads")
    head_dim = p.head_dim or e // heads
    # how a head's width reads in messages: given, or embed_dim's share
    width = f"head_dim {head_dim}" if p.head_dim else f"embed_dim {e} / num_heads {heads} = {head_dim}"
    fewer = ("set head_dim: 2 or more" if p.head_dim else
             f"give each head at least 2 features: embed_dim {e} / num_heads {heads} is {head_dim}")
    rotary_dim = None
    if p.rotary is not None and isinstance(p.rotary.dim, float) and not p.rotary.dim.is_integer():
        turned = _even_dim(int(p.rotary.dim * head_dim), head_dim)
        hint = (f"write rotary: {{dim: {turned}}} ({p.rotary.dim} of the {head_dim} features of a head)" if turned
                else fewer)
        raise SpecError("S040", f"rotary dim {p.rotary.dim} is a fraction, but dim counts the features of each head "
                        "that turn (GPT-NeoX's rotary_pct times head_dim)", hint, field="rotary")
    if p.rotary is not None:
        rotary_dim = int(p.rotary.dim or head_dim)
        if rotary_dim > head_dim or rotary_dim % 2:
            fix = _even_dim(rotary_dim, head_dim)
            given = f"rotary dim {rotary_dim}" if p.rotary.dim else f"rotary (over all {head_dim} features)"
            why = (f"more than the {head_dim} features of a head" if rotary_dim > head_dim
                   else "an odd count, but rotary turns features in pairs")
            hint = f"write rotary: {{dim: {fix}}} (the first {fix} features of each head turn)" if fix else fewer
            raise SpecError("S040", f"{given} is {why} ({width})", hint, field="rotary")
    scaling = _rotary_scaling(p.rotary.scaling, rotary_dim or 0) if p.rotary is not None and p.rotary.scaling else None
    bias, out_bias = (p.bias.qkv, p.bias.out) if isinstance(p.bias, AttentionBias) else (p.bias, p.bias)
    q_dim, kv_dim = heads * head_dim, kv * head_dim
    params = (e * q_dim + kv_dim * kdim + kv_dim * vdim + q_dim * e + int(bias) * (q_dim + 2 * kv_dim)
              + int(out_bias) * e)
    qk_norm = _qk_norm(p.qk_norm, head_dim, q_dim, kv_dim, width) if p.qk_norm is not None else None
    if qk_norm:
        params += qk_norm_params(qk_norm, heads, kv, head_dim)
    # q and o projections, k and v projections, then scores and weighted sum over all query heads
    macs = add(add(mul(t_len, 2 * e * q_dim), mul(s_len, kv_dim * (kdim + vdim))), mul(mul(t_len, s_len), 2 * q_dim))
    args = {"embed_dim": e, "num_heads": heads, "num_kv_heads": kv, "bias": bias,
            "kdim": None if kdim == e else kdim, "vdim": None if vdim == e else vdim, "dropout": float(p.dropout),
            "batch_first": p.batch_first, "scale": p.scale, "causal": p.causal, "rotary_dim": rotary_dim,
            "rotary_base": float(p.rotary.base) if p.rotary else 10000.0,
            "rotary_interleaved": bool(p.rotary and p.rotary.interleaved),
            # None where the plain attention's value holds: the generated code names only what differs
            "head_dim": head_dim if head_dim * heads != e else None, "out_bias": None if out_bias == bias else out_bias,
            "window": p.window, "rotary_scaling": scaling, "softcap": p.softcap, "local_window": p.local_window,
            "qk_norm": qk_norm, "masks": p.masks, "bool_masks": False, "float_attn": False}
    if p.clip_qkv is not None:  # only then: the attributes of every other attention stay as they were
        args["clip_qkv"] = float(p.clip_qkv)
    return LayerResult(TensorType(q.shape, q.dtype, q.notes), args, params, macs)


def qk_norm_params(norm: dict[str, Any], heads: int, kv_heads: int, head_dim: int) -> int:
    """The weights of q_norm and k_norm: none for Llama 4's L2 norm, one head_dim shared by the heads (Qwen3),
    one per head (Cohere), or the whole projections' (OLMo-2)."""
    if norm.get("type") == "l2":
        return 0
    if norm["over"] == "head" and not norm.get("per_head"):
        return 2 * head_dim
    return (heads + kv_heads) * head_dim


def _qk_norm_kind(n: QKNorm) -> None:
    """V171: what a norm's type or over: leaves no weight for (an L2 norm's offset or per-head weights, a
    per-head weight on a norm over the whole projection)."""
    given = {k: getattr(n, k) for k in ("type", "over", "eps", "dim") if k in n.model_fields_set}
    if n.type == "l2" and (n.add_unit_offset or n.per_head):
        key = "add_unit_offset" if n.add_unit_offset else "per_head"
        raise SpecError("V171", f"qk_norm's type l2 (Llama 4's L2 norm) has no weight, but {key}: true asks for "
                        + ("1 + weight" if key == "add_unit_offset" else "a weight for each head"),
                        f"write qk_norm: {yaml_flow({**{k: v for k, v in given.items() if k != 'type'}, key: True})}"
                        f" for an RMSNorm with that weight, or drop {key} for Llama 4's weightless norm",
                        field="qk_norm")
    if n.per_head and n.over == "all":
        cohere = yaml_flow({**{k: v for k, v in given.items() if k != "over"}, "per_head": True})
        raise SpecError("V171", "qk_norm's per_head: true gives each head a weight of its own, but over: all "
                        "normalises the whole projection at once (OLMo-2's), whose weight already has one entry "
                        "per feature of every head",
                        f"write qk_norm: {cohere} for Cohere's norm of each head, or drop per_head for OLMo-2's",
                        field="qk_norm")


def _qk_norm(n: QKNorm, head_dim: int, q_dim: int, kv_dim: int, width: str) -> dict[str, Any]:
    """The query/key norm's settings as the generated code takes them; a ``dim`` that is not the width
    ``over`` normalises is V159 (a norm over another width cannot run, or would be another model), a type
    or over: that leaves no weight for what else is asked V171."""
    _qk_norm_kind(n)
    if n.dim is not None:
        wants = head_dim if n.over == "head" else q_dim
        if n.dim != wants:
            given = {k: getattr(n, k) for k in ("over", "eps", "add_unit_offset") if k in n.model_fields_set}
            if n.dim == (q_dim if n.over == "head" else head_dim):
                other = "all" if n.over == "head" else "head"
                why = ("the whole query projection (num_heads·head_dim), OLMo-2's norm, while over: head "
                       "normalises each head" if other == "all" else
                       "one head, Qwen3's and Gemma 3's norm, while over: all normalises the whole projection")
                fixed = yaml_flow({**given, "over": other, "dim": n.dim})
                kept = yaml_flow({**given, "dim": head_dim if n.over == "head" else q_dim})
                model = "OLMo-2's norm over the projection" if other == "all" else "Qwen3's norm per head"
                mine = "Qwen3's per head" if other == "all" else "OLMo-2's over the projection"
                raise SpecError("V159", f"qk_norm's dim {n.dim} is {why} ({width}, {q_dim} across the heads)",
                                f"write qk_norm: {fixed} for {model}, or qk_norm: {kept} for {mine}",
                                field="qk_norm")
            fixed = yaml_flow({**given, "dim": wants})
            if n.over == "all" and n.dim == kv_dim:
                raise SpecError("V159", f"qk_norm's dim {n.dim} is the key projection's width (num_kv_heads·head_dim), "
                                f"but dim: names the query projection's, {q_dim}: k_norm takes the keys' {kv_dim} by "
                                "itself", f"write qk_norm: {fixed} (or drop dim: and let over: say the width)",
                                field="qk_norm")
            what = f"each head's width ({width})" if n.over == "head" else \
                f"the query projection's width ({q_dim}; the keys' is {kv_dim})"
            raise SpecError("V159", f"qk_norm's dim {n.dim} is neither a head's width {head_dim} nor the query "
                            f"projection's {q_dim}: over: {n.over} normalises {what}",
                            f"write qk_norm: {fixed} (or drop dim: and let over: say the width)", field="qk_norm")
    out: dict[str, Any] = {"over": n.over, "eps": float(n.eps), "add_unit_offset": n.add_unit_offset}
    # only where they differ from Qwen3's: the attributes of the specs written before them stay as they were
    if n.type != "rms":
        out["type"] = n.type
    if n.per_head:
        out["per_head"] = True
    return out


def _rotary_scaling(s: RotaryScaling, rotary_dim: int) -> dict[str, Any]:
    """The scaling's settings its type reads, as Hugging Face's rope_scaling names them, with yarn's and
    longrope's attention factor computed as Hugging Face computes it; the keys of another type, or a
    missing one, are V131 (a silently ignored factor would be a wrong model)."""
    wanted, optional = SCALING_KEYS[s.type], SCALING_OPTIONAL.get(s.type, ())
    given = {k: getattr(s, k) for k in RotaryScaling.model_fields if k != "type" and getattr(s, k) is not None}
    example = SCALING_EXAMPLE[s.type]
    missing = [k for k in wanted if k not in given]
    if s.type == "longrope" and "factor" not in given and "attention_factor" not in given:
        missing.append("factor")  # Hugging Face reads max_position_embeddings / original_... then
    if missing:
        also = (" (longrope's factor is max_position_embeddings / original_max_position_embeddings, which sets "
                "its attention factor)") if "factor" in missing and s.type == "longrope" else ""
        raise SpecError("V131", f"rotary scaling type {s.type} reads {', '.join(wanted + optional)}, but "
                        f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not given{also}",
                        f"write {example}, with the values of the model's rope_scaling", field="rotary")
    extra = [k for k in given if k not in wanted + optional]
    if extra:
        owners = [t for t in SCALING_KEYS if all(k in SCALING_KEYS[t] + SCALING_OPTIONAL.get(t, ()) for k in extra)]
        whose = f" ({owners[0]}'s)" if owners else ""
        instead = (f"write type: {owners[0]} if the model's rope_scaling is {owners[0]}'s, or drop "
                   if owners else "drop ")
        raise SpecError("V131", f"rotary scaling type {s.type} reads {', '.join(wanted + optional)} alone, but "
                        f"{', '.join(extra)} {'is' if len(extra) == 1 else 'are'} given too{whose}",
                        f"{instead}{', '.join(extra)}", field="rotary")
    if s.type == "llama3" and given["high_freq_factor"] <= given["low_freq_factor"]:
        raise SpecError("V132", f"llama3 scaling's high_freq_factor {given['high_freq_factor']:g} is not above its "
                        f"low_freq_factor {given['low_freq_factor']:g}: the band blended between the two "
                        "wavelengths is empty (the blend divides by high_freq_factor - low_freq_factor)",
                        "LLaMA 3.1 writes low_freq_factor: 1 and high_freq_factor: 4; swap the two if they are the "
                        "wrong way round", field="rotary")
    out: dict[str, Any] = {"type": s.type}
    for k, v in given.items():
        out[k] = int(v) if k == "original_max_position_embeddings" else v if isinstance(v, bool) else \
            [float(f) for f in v] if isinstance(v, tuple) else float(v)
    if s.type == "yarn":
        fast, slow = out.setdefault("beta_fast", 32.0), out.setdefault("beta_slow", 1.0)
        if fast <= slow:
            raise SpecError("V156", f"yarn scaling's beta_fast {fast:g} is not above its beta_slow {slow:g}: the "
                            "ramp from the pairs kept (turning more than beta_fast times over the trained context) "
                            "to those divided by factor (fewer than beta_slow) would run backwards, interpolating "
                            "the fast pairs and keeping the slow ones", "Hugging Face's defaults are beta_fast: 32 "
                            "and beta_slow: 1 (drop both to take them); swap the two if they are the wrong way round",
                            field="rotary")
        out.setdefault("truncate", True)
        out["attention_factor"] = _yarn_attention_factor(out)
    if s.type == "longrope":
        for key in ("short_factor", "long_factor"):
            if len(out[key]) != rotary_dim // 2:
                raise SpecError("V157", f"longrope's {key} has {len(out[key])} entries, but the rotary turns "
                                f"{rotary_dim // 2} pairs (rotary dim {rotary_dim}): one factor divides each pair's "
                                "frequency", f"give {key} {rotary_dim // 2} entries, the model's rope_scaling's "
                                "(its head_dim · partial_rotary_factor / 2), or set the rotary dim the factors were "
                                f"made for (rotary: {{dim: {2 * len(out[key])}}})", field="rotary")
        if "attention_factor" not in out:
            factor, old = out["factor"], out["original_max_position_embeddings"]
            out["attention_factor"] = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(old))
    return out


def _yarn_attention_factor(s: dict[str, Any]) -> float:
    """Hugging Face's _compute_yarn_parameters: the given attention_factor, else DeepSeek's ratio of two
    mscales, else 0.1·ln(factor) + 1."""
    if "attention_factor" in s:
        return float(s["attention_factor"])

    def get_mscale(scale: float, mscale: float = 1.0) -> float:
        return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0

    if s.get("mscale") and s.get("mscale_all_dim"):
        return float(get_mscale(s["factor"], s["mscale"]) / get_mscale(s["factor"], s["mscale_all_dim"]))
    return get_mscale(s["factor"])


class EncoderLayerParams(LayerParams):
    nhead: PositiveInt = Field(validation_alias=AliasChoices("nhead", "num_heads"))
    d_model: PositiveInt | None = None
    dim_feedforward: PositiveInt = 2048
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    # gelu_tanh: GELU's tanh approximation (GPT-2's gelu_new, BERT as TensorFlow trained it)
    activation: Literal["relu", "gelu", "gelu_tanh"] = "relu"
    layer_norm_eps: PositiveFloat = 1e-5
    batch_first: bool = True
    norm_first: bool = False
    bias: bool = True
    causal: bool = False
    masks: tuple[Mask, ...] = ()

    _masks = field_validator("masks")(_unique_masks)


class EncoderParams(EncoderLayerParams):
    num_layers: PositiveInt
    norm: bool = False  # a final LayerNorm after the stack (usual with norm_first: true)


def layer_args(p: EncoderLayerParams, e: int, masks: list[TensorType]) -> dict[str, Any]:
    """A Transformer layer's resolved attributes, in nn.Transformer*Layer's order, then how forward
    calls it (masks: the mask inputs; causal: the mask built from the length)."""
    return {"d_model": e, "nhead": p.nhead, "dim_feedforward": p.dim_feedforward, "dropout": float(p.dropout),
            "activation": p.activation, "layer_norm_eps": p.layer_norm_eps, "batch_first": p.batch_first,
            "norm_first": p.norm_first, "bias": p.bias, "masks": p.masks, "causal": p.causal,
            "bool_masks": bool_padding(p.masks, masks), "float_attn": float_attn(p.masks, masks)}


def attention_weights(e: int, bias: bool, kdim: Any = None, vdim: Any = None,
                      bias_kv: bool = False) -> dict[str, tuple[int, ...]]:
    """nn.MultiheadAttention's parameters: one packed input projection when keys and values have
    the query's width, else one per projection."""
    kdim, vdim = int(kdim or e), int(vdim or e)
    out: dict[str, tuple[int, ...]] = (
        {"in_proj_weight": (3 * e, e)} if kdim == vdim == e else
        {"q_proj_weight": (e, e), "k_proj_weight": (e, kdim), "v_proj_weight": (e, vdim)})
    if bias:
        out["in_proj_bias"] = (3 * e,)
    if bias_kv:
        out["bias_k"] = out["bias_v"] = (1, 1, e)
    out["out_proj.weight"] = (e, e)
    if bias:
        out["out_proj.bias"] = (e,)
    return out


class _Transformer(LayerKind):
    """A Transformer layer (``layer_counts``), or with ``num_layers`` a stack of its copies and an
    optional final LayerNorm."""

    accepts = "any"
    attentions: tuple[str, ...] = ("self_attn",)
    norms = 2

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        e, ff, bias = int(args["d_model"]), int(args["dim_feedforward"]), bool(args["bias"])
        one: dict[str, tuple[int, ...]] = {}
        for attn in self.attentions:
            one |= {f"{attn}.{k}": v for k, v in attention_weights(e, bias).items()}
        for name, shape in (("linear1", (ff, e)), ("linear2", (e, ff))):
            one[f"{name}.weight"] = shape
            if bias:
                one[f"{name}.bias"] = shape[:1]
        for i in range(1, self.norms + 1):
            one |= {f"norm{i}.weight": (e,), **({f"norm{i}.bias": (e,)} if bias else {})}
        if "num_layers" not in args:
            return one
        out = {f"layers.{i}.{k}": v for i in range(int(args["num_layers"])) for k, v in one.items()}
        if args.get("norm"):
            out |= {"norm.weight": (e,), **({"norm.bias": (e,)} if bias else {})}
        return out

    def layer_counts(self, p: Any, ins: list[TensorType]) -> tuple[TensorType, dict[str, Any], int, DimLike]:
        raise NotImplementedError

    def infer(self, p: Any, ins: list[TensorType]) -> LayerResult:
        out, args, params, macs = self.layer_counts(p, ins)
        if not hasattr(p, "num_layers"):
            return LayerResult(out, args, params, macs)
        e = args["d_model"]
        final = (e + (e if p.bias else 0)) if p.norm else 0
        macs = mul(macs, p.num_layers)
        if p.norm:
            macs = add(macs, mul(seq_axes(ins[0], p.batch_first)[1], 5 * e))
        return LayerResult(out, {**args, "num_layers": p.num_layers, "norm": p.norm}, params * p.num_layers + final,
                           macs)


class _Encoder(_Transformer):
    Params = EncoderLayerParams
    min_inputs, max_inputs = 1, 3

    def applied(self, args: dict[str, Any]) -> Form:
        # with masks (read or built from the length) forward is not module(x), so repeat: cannot chain it
        return "call" if args.get("masks") or args.get("causal") else self.form

    def layer_counts(self, p: Any, ins: list[TensorType]) -> tuple[TensorType, dict[str, Any], int, DimLike]:
        x = ins[0]
        if len(ins) != 1 + len(p.masks):
            raise SpecError("G003", f"{self.type_name} reads x plus {len(p.masks)} mask"
                            f"{'s' if len(p.masks) != 1 else ''} (masks: {list(p.masks)}), got {len(ins)} inputs",
                            "list the masks under masks: in the order they follow x in from:", field="masks")
        _check_float(x, "input", p.masks, "the sequence")
        if x.rank != 3:
            raise SpecError("S003", f"{self.type_name} needs (B, T, d_model) (or (T, B, d_model) with "
                            f"batch_first: false), got rank {x.rank} {x}", sequence_hint(x))
        e = check_given(p.d_model, x.shape[2], "d_model", x, 2, "features per step")
        check_features_last(x, e, p.nhead, "d_model", "nhead", p.batch_first)
        check_heads(e, p.nhead, "d_model", "nhead")
        batch, t_len = seq_axes(x, p.batch_first)
        check_masks(p.masks, ins[1:], batch, t_len, t_len, p.nhead)
        check_causal(p.causal, p.masks, t_len, t_len)
        f = p.dim_feedforward
        b = 1 if p.bias else 0
        attn = 4 * e * e + 4 * e * b
        ffn = 2 * e * f + (f + e) * b
        norms = 2 * (e + e * b)
        macs = add(mul(t_len, 4 * e * e + 2 * e * f + 2 * 5 * e), mul(mul(t_len, t_len), 2 * e))
        return TensorType(x.shape, x.dtype, x.notes), layer_args(p, e, ins[1:]), attn + ffn + norms, macs


@register
class TransformerEncoderLayer(_Encoder):
    type_name = "TransformerEncoderLayer"
    summary = "self-attention + feed-forward block with residuals and LayerNorms (post- or pre-norm)"


@register
class TransformerEncoder(_Encoder):
    type_name = "TransformerEncoder"
    Params = EncoderParams
    summary = "num_layers copies of TransformerEncoderLayer, optionally a final LayerNorm"


# -- decoders: self-attention on the target, cross-attention on a named memory ---------------------------

DecoderMask = Literal["key_padding", "memory_key_padding"]


class DecoderLayerParams(EncoderLayerParams):
    # causal: the target's self-attention sees no later step (tgt_mask)
    masks: tuple[DecoderMask, ...] = ()  # type: ignore[assignment]  # a decoder's masks are its own


class DecoderParams(DecoderLayerParams):
    num_layers: PositiveInt
    norm: bool = False


class _Decoder(_Transformer):
    Params = DecoderLayerParams
    min_inputs, max_inputs = 2, 4
    attentions = ("self_attn", "multihead_attn")
    norms = 3
    form = "call"  # the target and the memory

    def layer_counts(self, p: Any, ins: list[TensorType]) -> tuple[TensorType, dict[str, Any], int, DimLike]:
        if len(ins) != 2 + len(p.masks):
            masks = f" and the {len(p.masks)} mask{'s' if len(p.masks) != 1 else ''} of masks:" if p.masks else ""
            raise SpecError("G003", f"{self.type_name} reads the target sequence and the memory it attends to"
                            f"{masks}, {2 + len(p.masks)} inputs, but got {len(ins)}",
                            "write from: [tgt, memory] (the target, then the encoder's output)"
                            + (", then the masks in the order of masks:" if p.masks else ""),
                            field="masks" if p.masks else None)
        x, mem = ins[0], ins[1]
        for t, what in ((x, "target"), (mem, "memory")):
            _check_float(t, what, p.masks, "the target and the memory")
            if t.rank != 3:
                raise SpecError("S003", f"{self.type_name} needs the {what} as (B, T, d_model) (or (T, B, d_model) "
                                f"with batch_first: false), got rank {t.rank} {t}", sequence_hint(t), field="from")
        e = check_given(p.d_model, x.shape[2], "d_model", x, 2, "features per target step")
        check_features_last(x, e, p.nhead, "d_model", "nhead", p.batch_first)
        check_heads(e, p.nhead, "d_model", "nhead")
        if mem.shape[2] != e:
            raise SpecError("S023", f"the memory {mem} has {mem.shape[2]} features per step but the target has "
                            f"d_model {e}: cross-attention projects both with one width",
                            f"give the memory {e} features (the encoder's d_model, or a Linear with out_features: "
                            f"{e} on it), or the target {mem.shape[2]}", field="from")
        batch, t_len = seq_axes(x, p.batch_first)
        mb, s_len = seq_axes(mem, p.batch_first)
        if mb != batch:
            raise SpecError("S010" if isinstance(mb, Dim) or isinstance(batch, Dim) else "S006",
                            f"the memory has batch size {mb} but the target has {batch}",
                            "feed the target and the memory from the same batch"
                            + ("" if p.batch_first else " (with batch_first: false both are (T, B, d_model))"),
                            field="from")
        for name, m in zip(p.masks, ins[2:]):
            # a key-padding mask over the target's own steps, or over the memory's
            check_masks((name,), [m], batch, t_len, t_len if name == "key_padding" else s_len, p.nhead)
        f = p.dim_feedforward
        b = 1 if p.bias else 0
        attn = 4 * e * e + 4 * e * b
        params = 2 * attn + 2 * e * f + (f + e) * b + 3 * (e + e * b)
        macs = add(add(mul(t_len, 6 * e * e + 2 * e * f + 3 * 5 * e), mul(s_len, 2 * e * e)),
                   add(mul(mul(t_len, t_len), 2 * e), mul(mul(t_len, s_len), 2 * e)))
        return TensorType(x.shape, x.dtype, x.notes), layer_args(p, e, ins[2:]), params, macs


@register
class TransformerDecoderLayer(_Decoder):
    type_name = "TransformerDecoderLayer"
    summary = ("self-attention on the target, cross-attention on a memory (from: [tgt, memory]), feed-forward, "
               "with residuals and LayerNorms")


@register
class TransformerDecoder(_Decoder):
    type_name = "TransformerDecoder"
    Params = DecoderParams
    summary = "num_layers copies of TransformerDecoderLayer on one memory, optionally a final LayerNorm"


# -- positional encodings ---------------------------------------------------------------------------

class PositionalEncodingParams(LayerParams):
    kind: Literal["sinusoidal", "learned"] = "sinusoidal"
    max_len: PositiveInt = 512
    d_model: PositiveInt | None = None
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    batch_first: bool = True


@register
class PositionalEncoding(LayerKind):
    type_name = "PositionalEncoding"
    Params = PositionalEncodingParams
    ranks = (3,)
    layout = "(B, T, d_model) with batch_first, else (T, B, d_model)"
    summary = "adds sinusoidal (fixed) or learned position vectors to a (B, T, d_model) sequence"

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        return {"pe": (int(args["max_len"]), int(args["d_model"]))} if args["kind"] == "learned" else {}

    def infer(self, p: PositionalEncodingParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        e = check_given(p.d_model, x.shape[2], "d_model", x, 2, "features per step")
        t_len = seq_axes(x, p.batch_first)[1]
        if isinstance(t_len, int) and t_len > p.max_len:
            fix = f"set max_len: {t_len} or more"
            if p.batch_first and flattened_positions(x) and e <= p.max_len:
                # A last dim flattened from a conv map (Flatten start_dim: 2) holds positions, not features.
                fix = (f"if {x} is (B, features, steps), put the features last with - {{type: Transpose, dim0: 1, "
                       f"dim1: 2}} right after the Flatten (then its {e} positions are the steps, within max_len "
                       f"{p.max_len}); else {fix}")
            raise SpecError("S001", f"the sequence has {t_len} steps but the position table has max_len "
                            f"{p.max_len}", fix, field="max_len")
        # the table is sliced to the length: a symbolic length may not run past it
        needs = [] if isinstance(t_len, int) else [
            Requirement(p.max_len - t_len, 0, f"the position table has max_len {p.max_len}", "max_len",
                        f"{t_len} <= {p.max_len}")]
        table = p.max_len * e
        args = {"d_model": e, "max_len": p.max_len, "kind": p.kind, "dropout": float(p.dropout),
                "batch_first": p.batch_first}
        learned = p.kind == "learned"
        return LayerResult(TensorType(x.shape, x.dtype, x.notes), args, table if learned else 0, 0,
                           0 if learned else table, requires=needs)


# -- learned tokens -----------------------------------------------------------------------------

class LearnedTokensParams(LayerParams):
    num_tokens: PositiveInt
    d_model: PositiveInt
    batch_first: bool = True


@register
class LearnedTokens(LayerKind):
    """``num_tokens`` learned vectors, the same for every sample: ``(B, num_tokens, d_model)``
    (``(num_tokens, B, d_model)`` without batch_first), the batch size read from the input
    (``from:`` any tensor of the batch).  DETR's object queries, the latent array of a
    Perceiver, a Set Transformer's seeds: the target of a TransformerDecoder whose memory is
    the input.  One parameter ``tokens`` of (1, num_tokens, d_model), drawn from N(0, 0.02²)."""

    type_name = "LearnedTokens"
    Params = LearnedTokensParams
    accepts = "any"
    summary = ("num_tokens learned vectors for each sample, (B, num_tokens, d_model), B read from the input "
               "(DETR queries, Perceiver latents)")

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        return {"tokens": (1, int(args["num_tokens"]), int(args["d_model"]))}

    def infer(self, p: LearnedTokensParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        b_axis = 0 if p.batch_first else 1
        if x.rank <= b_axis:
            raise SpecError("S003", f"with batch_first: false the batch is dim 1, but the input {x} has rank "
                            f"{x.rank}", "read the batch from a (T, B, d_model) sequence, or set batch_first: true",
                            field="batch_first")
        dtype = x.dtype if x.is_float else "float32"
        shape = (x.shape[0], p.num_tokens, p.d_model) if p.batch_first else (p.num_tokens, x.shape[1], p.d_model)
        args = {"num_tokens": p.num_tokens, "d_model": p.d_model, "batch_first": p.batch_first}
        return LayerResult(TensorType(shape, dtype), args, p.num_tokens * p.d_model, 0)


# -- class token ------------------------------------------------------------------------------------

class LatentAttentionParams(LayerParams):
    num_heads: PositiveInt = Field(validation_alias=AliasChoices("num_heads", "num_attention_heads"))
    # DeepSeek-V2/V3's ranks: the queries through a q_lora_rank bottleneck (None: one q_proj, V2-Lite), the keys
    # and values through one kv_lora_rank latent shared by every head
    kv_lora_rank: PositiveInt = Field(examples=[512])
    q_lora_rank: PositiveInt | None = Field(None, examples=[1536])
    qk_nope_head_dim: PositiveInt = Field(examples=[128])
    qk_rope_head_dim: PositiveInt = Field(examples=[64])
    v_head_dim: PositiveInt = Field(examples=[128])
    embed_dim: PositiveInt | None = Field(None, validation_alias=AliasChoices("embed_dim", "hidden_size"))
    # the rotary of the decoupled qk_rope_head_dim features (its dim is theirs); DeepSeek-V3 interleaves the pairs
    rotary: RotaryParams = Field(default_factory=RotaryParams)
    eps: PositiveFloat = Field(1e-6, validation_alias=AliasChoices("eps", "rms_norm_eps"))  # the two latents' RMSNorms
    bias: bool = Field(False, validation_alias=AliasChoices("bias", "attention_bias"))
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    causal: bool = False
    batch_first: bool = True
    scale: PositiveFloat | None = None  # None: (qk_nope_head_dim + qk_rope_head_dim)^-1/2, yarn's mscale² on it

    @field_validator("rotary", mode="before")
    @classmethod
    def _rotary_flag(cls, v: Any) -> Any:
        return {} if v is True or v is None else v


@register
class MultiheadLatentAttention(LayerKind):
    """DeepSeek-V2/V3's multi-head latent attention (MLA), as Hugging Face's DeepseekV3Attention writes it:
    the queries through q_a_proj, an RMSNorm and q_b_proj (or one q_proj without q_lora_rank), the keys and
    values through one latent, kv_a_proj_with_mqa's kv_lora_rank features RMS-normalised and expanded per head
    by kv_b_proj into each head's qk_nope_head_dim key features and v_head_dim values; beside the latent,
    kv_a_proj_with_mqa's last qk_rope_head_dim features are one rotary key shared by every head (decoupled
    rotary), and each query head's last qk_rope_head_dim features turn with it.  Scores over
    qk_nope_head_dim + qk_rope_head_dim features, outputs of v_head_dim per head through o_proj."""

    type_name = "MultiheadLatentAttention"
    aliases = ("MLA",)
    Params = LatentAttentionParams
    # DeepSeek's decoders attend each sequence to itself under a causal mask alone, which is what it lowers
    extra_inputs_hint = ("it attends the sequence to itself and takes no mask or memory: read the sequence alone "
                         "(from: x), with causal: true for a decoder's mask; for a padding mask or cross-attention "
                         "use MultiheadAttention (masks: [key_padding], from: [query, memory])")
    summary = ("DeepSeek-V2/V3's multi-head latent attention: low-rank q and kv projections (q_lora_rank, "
               "kv_lora_rank) with decoupled rotary features (qk_rope_head_dim) shared by the heads' keys")

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        e, h, bias = int(args["embed_dim"]), int(args["num_heads"]), bool(args["bias"])
        qk = int(args["qk_nope_head_dim"]) + int(args["qk_rope_head_dim"])
        q_rank, kv_rank = args["q_lora_rank"], int(args["kv_lora_rank"])
        out: dict[str, tuple[int, ...]] = {}
        if q_rank is None:
            out["q_proj.weight"] = (h * qk, e)
        else:
            out["q_a_proj.weight"] = (int(q_rank), e)
            out |= {"q_a_proj.bias": (int(q_rank),)} if bias else {}
            out["q_a_layernorm.weight"] = (int(q_rank),)
            out["q_b_proj.weight"] = (h * qk, int(q_rank))
        out["kv_a_proj_with_mqa.weight"] = (kv_rank + int(args["qk_rope_head_dim"]), e)
        out |= {"kv_a_proj_with_mqa.bias": (kv_rank + int(args["qk_rope_head_dim"]),)} if bias else {}
        out["kv_a_layernorm.weight"] = (kv_rank,)
        out["kv_b_proj.weight"] = (h * (int(args["qk_nope_head_dim"]) + int(args["v_head_dim"])), kv_rank)
        out["o_proj.weight"] = (e, h * int(args["v_head_dim"]))
        out |= {"o_proj.bias": (e,)} if bias else {}
        return out

    def infer(self, p: LatentAttentionParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        _check_float(x, "input", (), "the sequence")
        if x.rank != 3:
            raise SpecError("S003", f"the input must be (B, T, E) (or (T, B, E) with batch_first: false), got rank "
                            f"{x.rank} {x}", sequence_hint(x))
        e = check_given(p.embed_dim, x.shape[2], "embed_dim", x, 2, "features per step")
        _, t_len = seq_axes(x, p.batch_first)
        check_causal(p.causal, (), t_len, t_len)
        r = p.qk_rope_head_dim
        if r % 2:
            raise SpecError("S040", f"qk_rope_head_dim {r} is an odd count, but rotary turns features in pairs",
                            f"set qk_rope_head_dim: {r + 1} (DeepSeek-V2 and V3 turn 64)", field="qk_rope_head_dim")
        if p.rotary.dim is not None and p.rotary.dim != r:
            raise SpecError("V173", f"rotary dim {p.rotary.dim} differs from qk_rope_head_dim {r}: latent "
                            "attention turns exactly its decoupled rotary features, and the others carry no position",
                            "drop dim from rotary: (qk_rope_head_dim says how many features turn)", field="rotary")
        scaling = _rotary_scaling(p.rotary.scaling, r) if p.rotary.scaling else None
        h, qk = p.num_heads, p.qk_nope_head_dim + p.qk_rope_head_dim
        scale = p.scale
        if scale is None:  # Hugging Face's yarn_apply_mscale: mscale_all_dim's factor squared on qk^-1/2
            scale = qk ** -0.5
            if scaling and scaling.get("mscale_all_dim") and scaling.get("factor", 1.0) > 1:
                m = 0.1 * scaling["mscale_all_dim"] * math.log(scaling["factor"]) + 1.0
                scale *= m * m
        args: dict[str, Any] = {
            "embed_dim": e, "num_heads": h, "kv_lora_rank": p.kv_lora_rank, "q_lora_rank": p.q_lora_rank,
            "qk_nope_head_dim": p.qk_nope_head_dim, "qk_rope_head_dim": r, "v_head_dim": p.v_head_dim,
            "eps": float(p.eps), "bias": p.bias, "dropout": float(p.dropout), "causal": p.causal,
            "batch_first": p.batch_first, "scale": float(scale), "rotary_base": float(p.rotary.base),
            "rotary_interleaved": p.rotary.interleaved, "rotary_scaling": scaling}
        params = sum(math.prod(s) for s in self.weights(args).values())
        q_macs = e * h * qk if p.q_lora_rank is None else p.q_lora_rank * (e + h * qk)
        per_step = q_macs + e * (p.kv_lora_rank + r) + p.kv_lora_rank * h * (p.qk_nope_head_dim + p.v_head_dim) \
            + h * p.v_head_dim * e
        macs = add(mul(t_len, per_step), mul(mul(t_len, t_len), h * (qk + p.v_head_dim)))
        return LayerResult(TensorType(x.shape, x.dtype, x.notes), args, params, macs)


class ClassTokenParams(LayerParams):
    d_model: PositiveInt | None = None
    num_tokens: PositiveInt = 1
    batch_first: bool = True


@register
class ClassToken(LayerKind):
    """``(B, T, D) -> (B, T + num_tokens, D)``: learned tokens in front of the sequence.  The
    encoder mixes them with every step, and ``{type: Select, dim: 1, index: 0}`` then takes
    the class token's output (torchvision's ``x[:, 0]``)."""

    type_name = "ClassToken"
    Params = ClassTokenParams
    layout = "(B, T, d_model) with batch_first, else (T, B, d_model)"  # rank checked in infer, with a hint
    summary = "prepend learned (class) tokens to a (B, T, d_model) sequence: (B, T + num_tokens, d_model)"

    def weights(self, args: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        return {"token": (1, int(args["num_tokens"]), int(args["d_model"]))}

    def infer(self, p: ClassTokenParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        if x.rank != 3:
            raise SpecError("S003", f"the input must be a sequence (B, T, d_model) (or (T, B, d_model) with "
                            f"batch_first: false), got rank {x.rank} {x}", sequence_hint(x))
        e = check_given(p.d_model, x.shape[2], "d_model", x, 2, "features per step")
        t_axis = 1 if p.batch_first else 0
        shape = list(x.shape)
        shape[t_axis] = add(shape[t_axis], p.num_tokens)
        # The step count changed; the other dims keep their story (a flattened map's "14·14").
        notes = {i: why for i, why in x.notes.items() if i != t_axis}
        args = {"d_model": e, "num_tokens": p.num_tokens, "batch_first": p.batch_first}
        return LayerResult(TensorType(tuple(shape), x.dtype, notes), args, p.num_tokens * e, 0)
