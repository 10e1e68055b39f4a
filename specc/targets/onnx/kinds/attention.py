"""ONNX lowering of the attention family: MultiheadAttention, the Transformer encoder and decoder
layers and stacks, PositionalEncoding and ClassToken.

Attention is written from MatMul and Softmax, as ``F.multi_head_attention_forward`` computes it in
eval mode: the q/k/v projections, heads split by a Reshape whose 0s copy the batch and length at
run time (so both stay symbolic), softmax(q·kᵀ/√d + mask)·v, the heads merged and projected.  The
scale 1/√d is folded into the query projection's weight and bias (a Mul of constants, which ONNX
Runtime folds when it loads the model), and masks become one additive float tensor: a bool mask
is -inf where true, as PyTorch's ``_canonical_mask`` makes it.  A row whose keys are all masked
is 0 after attention in PyTorch (SDPA's safe softmax) and NaN after ONNX's Softmax, so where a
user mask can mask a whole row, a row of -inf scores is given weights 0 as PyTorch gives them.

Parameters carry the PyTorch state-dict names (``self_attn.in_proj_weight``, ``layers.0.linear1.weight``,
``norm.bias``, ``pe``, ``token``) and, without a checkpoint, PyTorch's initial distributions:
``MultiheadAttention._reset_parameters`` (xavier-uniform projections, zero in/out biases,
xavier-normal bias_k/bias_v, out_proj.weight as nn.Linear), nn.Linear's and nn.LayerNorm's
defaults, a learned position table N(0, 0.02²), a zero class token and learned tokens
N(0, 0.02²).  PyTorch's encoder and decoder stacks deep-copy one layer, so their layers start
equal; here each is drawn on its own, from the same distributions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ....shapes.dims import DimLike
from ..builder import ELEM
from ..weights import ONES, XAVIER, ZEROS, Init, fan_in
from .activation import gelu
from .base import Layer, lowers
from .opset import dims_of, unsqueeze
from .reduce import reduce

# Range (the causal mask's positions) and Pad's pads as an input are opset 11's, Slice's bounds as
# inputs (PositionalEncoding's) opset 10's: limits.py refuses the kinds below those.
# LayerNormalization is an ONNX op from opset 17; earlier opsets get its formula.
LAYER_NORM_OPSET = 17


@dataclass(frozen=True)
class _Attn:
    """One attention module's configuration: ``key`` is its state-dict prefix (``self_attn.``)."""

    key: str
    embed_dim: int
    heads: int
    batch_first: bool
    bias: bool = True
    kdim: int | None = None  # with vdim: separate q/k/v_proj_weight (PyTorch packs them otherwise)
    vdim: int | None = None
    bias_kv: bool = False
    zero_attn: bool = False
    scale: float | None = None  # what multiplies q·kᵀ; None: 1/√head_dim


@dataclass(frozen=True)
class _Mask:
    """An additive float mask broadcastable to the scores (B, heads, T, S), and whether a
    user's mask may hide every key of a row (whose NaNs must then become PyTorch's 0)."""

    value: str | None = None
    guard: bool = False


def _ft(layer: Layer, value: float | list[float]) -> str:
    """A float constant in the layer's float type."""
    return layer.const(value, layer.float_dtype)


def _dim(layer: Layer, x: str, axis: int, d: DimLike) -> str:
    """A 1-element int64 tensor with dim ``axis`` of ``x``: a constant when fixed, else read from
    ``x``'s shape at run time."""
    return layer.const([d]) if isinstance(d, int) else dims_of(layer, x, axis, axis + 1)


# -- building blocks ------------------------------------------------------------------------------------

def _dense(layer: Layer, x: str, w: str, b: str | None) -> str:
    """x·wᵀ (+ b) over the last dim, ``w`` stored (out, in) as nn.Linear stores it."""
    y = layer.op("MatMul", [x, layer.op("Transpose", [w], perm=[1, 0])])
    return layer.op("Add", [y, b]) if b else y


def _linear(layer: Layer, x: str, key: str, n_in: int, n_out: int, bias: bool) -> str:
    """nn.Linear ``key`` with its default initialisation."""
    w = layer.param(f"{key}.weight", (n_out, n_in), fan_in(n_in))
    b = layer.param(f"{key}.bias", (n_out,), fan_in(n_in)) if bias else None
    return _dense(layer, x, w, b)


def _layer_norm(layer: Layer, x: str, key: str, e: int, eps: float, bias: bool) -> str:
    """nn.LayerNorm(e) ``key`` over the last dim."""
    w = layer.param(f"{key}.weight", (e,), ONES)
    b = layer.param(f"{key}.bias", (e,), ZEROS) if bias else None
    if layer.b.opset >= LAYER_NORM_OPSET:
        return layer.op("LayerNormalization", [x, w, b] if b else [x, w], axis=-1, epsilon=float(eps))
    # (x - mean) / sqrt(var + eps), the biased variance, as LayerNormalization defines it
    centred = layer.op("Sub", [x, layer.op("ReduceMean", [x], axes=[-1], keepdims=1)])
    var = layer.op("ReduceMean", [layer.op("Mul", [centred, centred])], axes=[-1], keepdims=1)
    y = layer.op("Div", [centred, layer.op("Sqrt", [layer.op("Add", [var, _ft(layer, eps)])])])
    y = layer.op("Mul", [y, w])
    return layer.op("Add", [y, b]) if b else y


def _split3(layer: Layer, t: str, e: int, axis: int = 0) -> list[str]:
    """Three parts of size e of a packed tensor, along ``axis`` (sizes an input from opset 13)."""
    if layer.b.opset >= 13:
        return layer.op("Split", [t, layer.const([e, e, e])], outputs=3, axis=axis)
    return layer.op("Split", [t], outputs=3, axis=axis, split=[e, e, e])


def _projections(layer: Layer, a: _Attn, q_in: str, k_in: str, v_in: str) -> tuple[str, str, str]:
    """q (already scaled by 1/√head_dim, or the attention's own scale), k and v, each (…, e) in
    the inputs' layout."""
    e = a.embed_dim
    scale = 1.0 / math.sqrt(e // a.heads) if a.scale is None else float(a.scale)
    bias = layer.param(f"{a.key}in_proj_bias", (3 * e,), ZEROS) if a.bias else None
    if a.kdim is None:
        w = layer.param(f"{a.key}in_proj_weight", (3 * e, e), XAVIER)
        if q_in == k_in == v_in:  # self-attention: one MatMul for the three, then split
            rows = np.array([scale] * e + [1.0] * (2 * e))
            w = layer.op("Mul", [w, _ft(layer, rows.reshape(3 * e, 1).tolist())])
            if bias:
                bias = layer.op("Mul", [bias, _ft(layer, rows.tolist())])
            qkv = _dense(layer, q_in, w, bias)
            q, k, v = _split3(layer, qkv, e, axis=-1)
            return q, k, v
        ws = _split3(layer, w, e)
    else:
        vdim = a.vdim if a.vdim is not None else e
        ws = [layer.param(f"{a.key}q_proj_weight", (e, e), XAVIER),
              layer.param(f"{a.key}k_proj_weight", (e, a.kdim), XAVIER),
              layer.param(f"{a.key}v_proj_weight", (e, vdim), XAVIER)]
    bs: list[str | None] = _split3(layer, bias, e) if bias else [None, None, None]
    s = _ft(layer, scale)
    q = _dense(layer, q_in, layer.op("Mul", [ws[0], s]), layer.op("Mul", [bs[0], s]) if bs[0] else None)
    return q, _dense(layer, k_in, ws[1], bs[1]), _dense(layer, v_in, ws[2], bs[2])


def _append_step(layer: Layer, a: _Attn, seq: str, step: str, batch: str) -> str:
    """``seq`` (…, e) with one more key step at the end: ``step`` (1, 1, e) for every sample."""
    seq_axis, batch_axis = (1, 0) if a.batch_first else (0, 1)
    ones = [layer.const([1])] * 3
    ones[batch_axis] = batch
    tiled = layer.op("Expand", [step, layer.op("Concat", ones, axis=0)])
    return layer.op("Concat", [seq, tiled], axis=seq_axis)


def _heads(layer: Layer, a: _Attn, x: str, keys: bool = False) -> str:
    """(B, T, e) or (T, B, e) -> (B, heads, T, d), or (B, heads, d, T) for the keys (transposed
    for q·kᵀ).  The Reshape's 0s copy the batch and length, which stay symbolic."""
    d = a.embed_dim // a.heads
    split = layer.op("Reshape", [x, layer.const([0, 0, a.heads, d])])
    b, t = (0, 1) if a.batch_first else (1, 0)
    return layer.op("Transpose", [split], perm=[b, 2, 3, t] if keys else [b, 2, t, 3])


def _attend(layer: Layer, a: _Attn, q_in: str, k_in: str, v_in: str, mask: _Mask) -> str:
    """nn.MultiheadAttention's output for query ``q_in`` and key/value ``k_in``/``v_in``, in their
    layout; ``mask`` is already as wide as the keys plus bias_kv's and zero_attn's steps."""
    e = a.embed_dim
    q, k, v = _projections(layer, a, q_in, k_in, v_in)
    extra = [layer.param(f"{a.key}bias_k", (1, 1, e), Init("normal", 1 / math.sqrt(e))),
             layer.param(f"{a.key}bias_v", (1, 1, e), Init("normal", 1 / math.sqrt(e)))] if a.bias_kv else []
    if a.zero_attn:
        zero = _ft(layer, np.zeros((1, 1, e)).tolist())
        extra += [zero, zero]
    if extra:
        batch = dims_of(layer, k, int(not a.batch_first), int(not a.batch_first) + 1)
        for bk, bv in zip(extra[::2], extra[1::2]):
            k, v = _append_step(layer, a, k, bk, batch), _append_step(layer, a, v, bv, batch)
    scores = layer.op("MatMul", [_heads(layer, a, q), _heads(layer, a, k, keys=True)])
    if mask.value is not None:
        scores = layer.op("Add", [scores, mask.value])
    weights = layer.op("Softmax", [scores], axis=-1)
    if mask.guard:  # PyTorch's safe softmax: 0, not NaN, where every key of a row is masked
        top = (layer.op("ReduceMax", [scores, layer.const([-1])], keepdims=1) if layer.b.opset >= 18
               else layer.op("ReduceMax", [scores], axes=[-1], keepdims=1))
        hidden = layer.op("Equal", [top, _ft(layer, -math.inf)])
        weights = layer.op("Where", [hidden, _ft(layer, 0.0), weights])
    out = layer.op("MatMul", [weights, _heads(layer, a, v)])  # (B, heads, T, d)
    out = layer.op("Transpose", [out], perm=[0, 2, 1, 3] if a.batch_first else [2, 0, 1, 3])
    out = layer.op("Reshape", [out, layer.const([0, 0, e])])
    w = layer.param(f"{a.key}out_proj.weight", (e, e), fan_in(e))
    b = layer.param(f"{a.key}out_proj.bias", (e,), ZEROS) if a.bias else None
    return _dense(layer, out, w, b)


# -- masks ------------------------------------------------------------------------------------------------

def _additive(layer: Layer, m: str, dtype: str) -> str:
    """A user's mask as the float added to the scores: -inf where a bool mask is true."""
    if dtype == "bool":
        return layer.op("Where", [m, _ft(layer, -math.inf), _ft(layer, 0.0)])
    if dtype != layer.float_dtype:
        return layer.op("Cast", [m], to=ELEM[layer.float_dtype])
    return m


def _key_padding(layer: Layer, m: str, dtype: str) -> str:
    """A (B, S) key-padding mask as (B, 1, 1, S), one row per sample for every head and query."""
    return layer.op("Reshape", [_additive(layer, m, dtype), layer.const([0, 1, 1, -1])])


def _attn_mask(layer: Layer, m: str, dtype: str, rank: int, heads: int) -> str:
    """An attention mask (T, S), or (B·heads, T, S) split into (B, heads, T, S)."""
    m = _additive(layer, m, dtype)
    if rank == 2:
        return m
    steps = dims_of(layer, m, 1, 3)
    return layer.op("Reshape", [m, layer.op("Concat", [layer.const([-1, heads]), steps], axis=0)])


def _causal(layer: Layer, x: str, t_axis: int, t: DimLike, extra: int = 0, window: int | None = None,
            local: int | None = None) -> str:
    """The (T, T + extra) mask of ``x``'s own length, built at run time: -inf where key j comes
    after query i (j > i), PyTorch's top-left causal mask; with a ``window`` also where j <= i - window
    (Mistral's sliding window).  With ``local`` instead (ModernBERT's bidirectional local window, no
    causal mask): -inf where |i - j| > local // 2."""
    length = layer.op("Reshape", [_dim(layer, x, t_axis, t), layer.const([], "int64")])
    zero, one = layer.const(0), layer.const(1)
    rows = layer.op("Reshape", [layer.op("Range", [zero, length, one]), layer.const([-1, 1])])
    width = layer.op("Add", [length, layer.const(extra)]) if extra else length
    cols = layer.op("Range", [zero, width, one])
    if local:
        distance = layer.op("Abs", [layer.op("Sub", [rows, cols])])
        far = layer.op("Greater", [distance, layer.const(local // 2)])
        return layer.op("Where", [far, _ft(layer, -math.inf), _ft(layer, 0.0)])
    later = layer.op("Greater", [cols, rows])
    if window:
        too_old = layer.op("Greater", [layer.op("Sub", [rows, cols]), layer.const(window - 1)])
        later = layer.op("Or", [later, too_old])
    return layer.op("Where", [later, _ft(layer, -math.inf), _ft(layer, 0.0)])


def _pad_keys(layer: Layer, m: str, rank: int, n: int) -> str:
    """``m`` with ``n`` unmasked key columns appended (bias_kv's and zero_attn's steps)."""
    if not n:
        return m
    pads = [0] * (2 * rank)
    pads[-1] = n
    return layer.op("Pad", [m, layer.const(pads), _ft(layer, 0.0)])


def _sum(layer: Layer, parts: list[str]) -> str | None:
    total = None
    for p in parts:
        total = p if total is None else layer.op("Add", [total, p])
    return total


def _masks(layer: Layer, names: tuple[str, ...], first: int) -> dict[str, tuple[str, str, int]]:
    """The mask inputs by name: (value, dtype, rank)."""
    return {n: (layer.inputs[first + i], layer.in_types[first + i].dtype, layer.in_types[first + i].rank)
            for i, n in enumerate(names)}


# -- the kinds --------------------------------------------------------------------------------------------

def rotary_inv_freq(d: int, base: float, scaling: dict[str, Any] | None, longer: bool = False) -> np.ndarray:
    """Hugging Face's inv_freq in float32, as GroupedQueryAttention.inv_freq computes it: each pair's
    angle per position, scaled as rope_scaling says (linear: divided by factor; llama3: long
    wavelengths divided by factor, short ones kept, the band between blended; yarn: a ramp from kept
    to divided by factor; longrope: each pair divided by its short factor, or with ``longer`` (a
    sequence past the trained context) its long one)."""
    steps = np.arange(0, d, 2).astype(np.float32) / np.float32(d)
    kind = scaling["type"] if scaling else None
    if kind == "longrope":
        factors = np.asarray(scaling["long_factor" if longer else "short_factor"], np.float32)  # type: ignore[index]
        return (np.float32(1.0) / (factors * np.float32(base) ** steps)).astype(np.float32)
    if kind == "yarn":
        return _yarn_inv_freq(d, base, scaling)  # type: ignore[arg-type]
    inv = (1.0 / (np.float32(base) ** steps)).astype(np.float32)
    if scaling is None:
        return inv
    factor = np.float32(scaling["factor"])
    if kind == "linear":
        return (inv / factor).astype(np.float32)
    old = np.float32(scaling["original_max_position_embeddings"])
    low, high = np.float32(scaling["low_freq_factor"]), np.float32(scaling["high_freq_factor"])
    wavelen = np.float32(2 * math.pi) / inv
    smooth = (old / wavelen - low) / (high - low)
    blended = (np.float32(1) - smooth) * inv / factor + smooth * inv
    kept = np.where(wavelen < old / high, inv, blended)
    return np.where(wavelen > old / low, inv / factor, kept).astype(np.float32)


def _yarn_inv_freq(d: int, base: float, s: dict[str, Any]) -> np.ndarray:
    """GroupedQueryAttention.yarn (Hugging Face's _compute_yarn_parameters) in float32."""
    old = s["original_max_position_embeddings"]

    def pair(rotations: float) -> float:
        return (d * math.log(old / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = pair(s["beta_fast"]), pair(s["beta_slow"])
    if s["truncate"]:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, d - 1)
    if low == high:
        high += 0.001
    ramp = (np.arange(d // 2, dtype=np.float32) - np.float32(low)) / np.float32(high - low)
    kept = np.float32(1) - np.clip(ramp, 0, 1)
    pos_freqs = np.float32(base) ** (np.arange(0, d, 2).astype(np.float32) / np.float32(d))
    inv = (np.float32(1) / (np.float32(s["factor"]) * pos_freqs)) * (np.float32(1) - kept) + \
        (np.float32(1) / pos_freqs) * kept
    return inv.astype(np.float32)


def _rotary(layer: Layer, x: str, t_axis_of: str, t_axis: int, t: DimLike, head_dim: int) -> str:
    """``x`` (B, heads, T, head_dim) with its first rotary_dim features turned by position 0..T-1,
    T read from ``t_axis_of`` at run time: x·cos + rotate(x)·sin, where rotate is a Gather of each
    feature's partner (i + d/2, or its neighbour when interleaved) times -1 or 1.  The features past
    rotary_dim get the angle 0 (cos 1, sin 0), which keeps them as they are."""
    args = layer.args
    d = int(args["rotary_dim"])
    scaling = args.get("rotary_scaling")
    half = d // 2
    rest = head_dim - d
    if args["rotary_interleaved"]:
        partner = [i + 1 if i % 2 == 0 else i - 1 for i in range(d)]
        sign = [-1.0 if i % 2 == 0 else 1.0 for i in range(d)]
    else:
        partner = [*range(half, d), *range(half)]
        sign = [-1.0] * half + [1.0] * half
    partner += range(d, head_dim)
    sign += [0.0] * rest

    def table(inv: np.ndarray) -> str:
        """Each feature's angle per position, (head_dim,): its pair's, 0 past rotary_dim."""
        freqs = np.repeat(inv, 2) if args["rotary_interleaved"] else np.concatenate([inv, inv])
        return layer.const(np.concatenate([freqs, np.zeros(rest, np.float32)]).tolist(), "float32")

    length = layer.op("Reshape", [_dim(layer, t_axis_of, t_axis, t), layer.const([], "int64")])
    freqs = table(rotary_inv_freq(d, float(args["rotary_base"]), scaling))
    if scaling and scaling["type"] == "longrope":  # the long factors once T passes the trained context
        longer = layer.op("Greater", [length, layer.const(int(scaling["original_max_position_embeddings"]))])
        freqs = layer.op("Where", [longer, table(rotary_inv_freq(d, float(args["rotary_base"]), scaling, True)),
                                   freqs])
    steps = layer.op("Range", [layer.const(0), length, layer.const(1)])
    positions = layer.op("Reshape", [layer.op("Cast", [steps], to=ELEM["float32"]), layer.const([-1, 1])])
    angles = layer.op("Mul", [positions, freqs])  # (T, head_dim)
    cos, sin = layer.op("Cos", [angles]), layer.op("Sin", [angles])
    if scaling and "attention_factor" in scaling:  # yarn, longrope: cos and sin scaled, in float32
        factor = layer.const([float(scaling["attention_factor"])], "float32")
        cos, sin = layer.op("Mul", [cos, factor]), layer.op("Mul", [sin, factor])
    if layer.float_dtype != "float32":
        cos, sin = (layer.op("Cast", [a], to=ELEM[layer.float_dtype]) for a in (cos, sin))
    turned = layer.op("Mul", [layer.op("Gather", [x, layer.const(partner)], axis=3), _ft(layer, sign)])
    return layer.op("Add", [layer.op("Mul", [x, cos]), layer.op("Mul", [turned, sin])])


def _qk_rms(layer: Layer, x: str, key: str, width: int | tuple[int, int], rank: int) -> str:
    """QKRMSNorm ``key`` over the last dim of ``x``: x / sqrt(mean(x²) + eps) · weight (1 + weight with
    add_unit_offset), in float32 as Hugging Face computes it, then back to the layer's float type; type
    layer takes the mean out first (Cohere), l2 has no weight (Llama 4); ``width`` (heads, head_dim) is a
    weight for each head."""
    norm = layer.args["qk_norm"]
    unit = bool(norm["add_unit_offset"])
    kind = norm.get("type", "rms")
    shape = width if isinstance(width, tuple) else (width,)
    w = None if kind == "l2" else layer.param(f"{key}.weight", shape, ZEROS if unit else ONES)
    f32 = layer.float_dtype != "float32"
    y = layer.op("Cast", [x], to=ELEM["float32"]) if f32 else x
    if f32 and w is not None:
        w = layer.op("Cast", [w], to=ELEM["float32"])
    if kind == "layer":
        y = layer.op("Sub", [y, reduce(layer, "ReduceMean", y, [rank - 1], keepdims=True)])
    mean = reduce(layer, "ReduceMean", layer.op("Mul", [y, y]), [rank - 1], keepdims=True)
    root = layer.op("Sqrt", [layer.op("Add", [mean, layer.const(float(norm["eps"]), "float32")])])
    y = layer.op("Div", [y, root])
    if w is not None:
        y = layer.op("Mul", [y, layer.op("Add", [w, layer.const(1.0, "float32")]) if unit else w])
    return layer.op("Cast", [y], to=ELEM[layer.float_dtype]) if f32 else y


def _grouped(layer: Layer) -> str:
    """Attention with q/k/v/o projections of their own, num_kv_heads key/value heads repeated for
    their groups of query heads (an Expand and a Reshape), rotary embeddings on q and k, and the
    causal mask built from the length, Gemma 2's softcap on the scores: support/grouped_attention.py's
    GroupedQueryAttention."""
    args = layer.args
    n = len(layer.inputs) - len(args["masks"])
    q_in = layer.inputs[0]
    k_in = layer.inputs[1] if n >= 2 else q_in
    v_in = layer.inputs[2] if n == 3 else k_in
    e, heads, kv = int(args["embed_dim"]), int(args["num_heads"]), int(args["num_kv_heads"])
    d = int(args.get("head_dim") or e // heads)
    bias, batch_first = bool(args["bias"]), bool(args["batch_first"])
    out_bias = bias if args.get("out_bias") is None else bool(args["out_bias"])
    t_axis = 1 if batch_first else 0
    kdim, vdim = int(args["kdim"] or e), int(args["vdim"] or e)
    to_heads = [0, 2, 1, 3] if batch_first else [1, 2, 0, 3]  # (B, heads, T, d)

    norm = args.get("qk_norm")

    clip = args.get("clip_qkv")

    def project(x: str, key: str, n_in: int, n_heads: int, norm_key: str | None = None) -> str:
        y = _linear(layer, x, key, n_in, n_heads * d, bias)
        if clip is not None:  # OLMo, DBRX: each projection clamped to ±clip_qkv
            y = layer.op("Clip", [y, _ft(layer, -float(clip)), _ft(layer, float(clip))])
        if norm_key and norm["over"] == "all":  # OLMo-2: the whole projection, before the heads split
            y = _qk_rms(layer, y, norm_key, n_heads * d, 3)
        y = layer.op("Reshape", [y, layer.const([0, 0, n_heads, d])])
        if norm_key and norm["over"] == "head":  # Qwen3, Gemma 3: each head's features; Cohere: each its own
            y = _qk_rms(layer, y, norm_key, (n_heads, d) if norm.get("per_head") else d, 4)
        return layer.op("Transpose", [y], perm=to_heads)

    q = project(q_in, "q_proj", e, heads, "q_norm" if norm else None)
    k = project(k_in, "k_proj", kdim, kv, "k_norm" if norm else None)
    v = project(v_in, "v_proj", vdim, kv)
    if args["rotary_dim"]:
        q = _rotary(layer, q, q_in, t_axis, layer.in_types[0].shape[t_axis], d)
        k_type = layer.in_types[1 if n >= 2 else 0]
        k = _rotary(layer, k, k_in, t_axis, k_type.shape[t_axis], d)
    if heads != kv:  # Hugging Face's repeat_kv: query head h reads key/value head h // (heads / kv)
        grow = layer.const([1, 1, heads // kv, 1, 1])
        k, v = (layer.op("Reshape", [layer.op("Expand", [unsqueeze(layer, t, [2]), grow]),
                                      layer.const([0, heads, -1, d])]) for t in (k, v))
    scale = 1.0 / math.sqrt(d) if args["scale"] is None else float(args["scale"])
    scores = layer.op("MatMul", [q, layer.op("Transpose", [k], perm=[0, 1, 3, 2])])
    scores = layer.op("Mul", [scores, _ft(layer, scale)])
    if args.get("softcap"):  # Gemma 2: tanh(scores / softcap)·softcap, before the masks
        cap = _ft(layer, float(args["softcap"]))
        scores = layer.op("Mul", [layer.op("Tanh", [layer.op("Div", [scores, cap])]), cap])
    parts = []
    given = _masks(layer, tuple(args["masks"]), n)
    if "key_padding" in given:
        m, dtype, _ = given["key_padding"]
        parts.append(_key_padding(layer, m, dtype))
    if args["causal"]:
        parts.append(_causal(layer, q_in, t_axis, layer.in_types[0].shape[t_axis], window=args.get("window")))
    elif args.get("local_window"):
        parts.append(_causal(layer, q_in, t_axis, layer.in_types[0].shape[t_axis], local=args["local_window"]))
    mask = _sum(layer, parts)
    if mask is not None:
        scores = layer.op("Add", [scores, mask])
    weights = layer.op("Softmax", [scores], axis=-1)
    if given:  # as GroupedQueryAttention: a row whose keys are all hidden attends to nothing (0), not NaN
        top = (layer.op("ReduceMax", [scores, layer.const([-1])], keepdims=1) if layer.b.opset >= 18
               else layer.op("ReduceMax", [scores], axes=[-1], keepdims=1))
        weights = layer.op("Where", [layer.op("Equal", [top, _ft(layer, -math.inf)]), _ft(layer, 0.0), weights])
    out = layer.op("MatMul", [weights, v])  # (B, heads, T, d)
    out = layer.op("Transpose", [out], perm=[0, 2, 1, 3] if batch_first else [2, 0, 1, 3])
    return _linear(layer, layer.op("Reshape", [out, layer.const([0, 0, heads * d])]), "o_proj", heads * d, e,
                   out_bias)


@lowers("MultiheadAttention")
def multihead_attention(layer: Layer) -> str:
    args = layer.args
    if "num_kv_heads" in args:
        return _grouped(layer)
    names = tuple(args["masks"])
    n_qkv = len(layer.inputs) - len(names)
    q_in = layer.inputs[0]
    k_in = layer.inputs[1] if n_qkv >= 2 else q_in
    v_in = layer.inputs[2] if n_qkv == 3 else k_in
    e, heads, batch_first = int(args["embed_dim"]), int(args["num_heads"]), bool(args["batch_first"])
    a = _Attn("", e, heads, batch_first, bool(args["bias"]), args["kdim"], args["vdim"], bool(args["add_bias_kv"]),
              bool(args["add_zero_attn"]), args.get("scale"))
    if a.kdim is not None and a.vdim is None:
        a = replace(a, vdim=e)
    extra = int(a.bias_kv) + int(a.zero_attn)
    given = _masks(layer, names, n_qkv)
    parts = []
    if "attn" in given:
        m, dtype, rank = given["attn"]
        parts.append(_pad_keys(layer, _attn_mask(layer, m, dtype, rank, heads), 2 if rank == 2 else 4, extra))
    if "key_padding" in given:
        m, dtype, _ = given["key_padding"]
        parts.append(_pad_keys(layer, _key_padding(layer, m, dtype), 4, extra))
    if args["causal"]:
        t_axis = 1 if batch_first else 0
        t = layer.in_types[0].shape[t_axis]
        # PyTorch joins a causal mask to a key-padding mask as a (T, T) mask, bias_kv's and
        # zero_attn's steps then visible; alone it is SDPA's top-left (T, T + extra) mask, and
        # those steps come after every query, hidden.
        if "key_padding" in given:
            parts.append(_pad_keys(layer, _causal(layer, q_in, t_axis, t), 2, extra))
        else:
            parts.append(_causal(layer, q_in, t_axis, t, extra))
    return _attend(layer, a, q_in, k_in, v_in, _Mask(_sum(layer, parts), bool(given)))


def _transformer(layer: Layer, reads: int) -> tuple[_Attn, dict[str, tuple[str, str, int]], _Mask]:
    """A Transformer layer's attention configuration, its mask inputs (after the ``reads`` inputs
    it attends over) and its self-attention mask: attention mask, key padding and causal, added."""
    args = layer.args
    e, heads, batch_first = int(args["d_model"]), int(args["nhead"]), bool(args["batch_first"])
    given = _masks(layer, tuple(args["masks"]), reads)
    parts = []
    if "attn" in given:
        m, dtype, rank = given["attn"]
        parts.append(_attn_mask(layer, m, dtype, rank, heads))
    if "key_padding" in given:
        m, dtype, _ = given["key_padding"]
        parts.append(_key_padding(layer, m, dtype))
    if args["causal"]:
        t_axis = 1 if batch_first else 0
        parts.append(_causal(layer, layer.x, t_axis, layer.in_type.shape[t_axis]))
    mask = _Mask(_sum(layer, parts), "attn" in given or "key_padding" in given)
    return _Attn("", e, heads, batch_first, bool(args["bias"])), given, mask


def _feed_forward(layer: Layer, x: str, key: str, e: int) -> str:
    args = layer.args
    f, bias = int(args["dim_feedforward"]), bool(args["bias"])
    h = _linear(layer, x, f"{key}linear1", e, f, bias)
    if args["activation"] in ("gelu", "gelu_tanh"):
        tanh = args["activation"] == "gelu_tanh"
        h = gelu(replace(layer, inputs=[h], args={"approximate": "tanh"} if tanh else {}))
    else:
        h = layer.op("Relu", [h])
    return _linear(layer, h, f"{key}linear2", f, e, bias)


def _sublayer(layer: Layer, x: str, key: str, e: int, block: Callable[[str], str]) -> str:
    """x + block(norm(x)) with norm_first, else norm(x + block(x)): nn.Transformer*Layer's
    residual around ``block`` (a function of the normalised or raw input) and LayerNorm ``key``."""
    args = layer.args
    eps, bias = float(args["layer_norm_eps"]), bool(args["bias"])
    if args["norm_first"]:
        return layer.op("Add", [x, block(_layer_norm(layer, x, key, e, eps, bias))])
    return _layer_norm(layer, layer.op("Add", [x, block(x)]), key, e, eps, bias)


def _encoder_layer(layer: Layer, x: str, key: str, a: _Attn, mask: _Mask) -> str:
    e = a.embed_dim
    sa = replace(a, key=f"{key}self_attn.")
    x = _sublayer(layer, x, f"{key}norm1", e, lambda h: _attend(layer, sa, h, h, h, mask))
    return _sublayer(layer, x, f"{key}norm2", e, lambda h: _feed_forward(layer, h, key, e))


def _decoder_layer(layer: Layer, x: str, memory: str, key: str, a: _Attn, self_mask: _Mask,
                   memory_mask: _Mask) -> str:
    e = a.embed_dim
    sa, ca = replace(a, key=f"{key}self_attn."), replace(a, key=f"{key}multihead_attn.")
    x = _sublayer(layer, x, f"{key}norm1", e, lambda h: _attend(layer, sa, h, h, h, self_mask))
    x = _sublayer(layer, x, f"{key}norm2", e, lambda h: _attend(layer, ca, h, memory, memory, memory_mask))
    return _sublayer(layer, x, f"{key}norm3", e, lambda h: _feed_forward(layer, h, key, e))


def _stack(layer: Layer, one: Callable[[str, str], str]) -> str:
    """One layer, or ``num_layers`` of them under ``layers.<i>.`` and the optional final norm."""
    args = layer.args
    if "num_layers" not in args:
        return one(layer.x, "")
    x = layer.x
    for i in range(int(args["num_layers"])):
        x = one(x, f"layers.{i}.")
    if args["norm"]:
        x = _layer_norm(layer, x, "norm", int(args["d_model"]), float(args["layer_norm_eps"]), bool(args["bias"]))
    return x


@lowers("TransformerEncoderLayer", "TransformerEncoder")
def transformer_encoder(layer: Layer) -> str:
    a, _, mask = _transformer(layer, 1)
    return _stack(layer, lambda x, key: _encoder_layer(layer, x, key, a, mask))


@lowers("TransformerDecoderLayer", "TransformerDecoder")
def transformer_decoder(layer: Layer) -> str:
    a, given, self_mask = _transformer(layer, 2)
    memory_mask = _Mask()
    if "memory_key_padding" in given:
        m, dtype, _ = given["memory_key_padding"]
        memory_mask = _Mask(_key_padding(layer, m, dtype), True)
    memory = layer.inputs[1]
    return _stack(layer, lambda x, key: _decoder_layer(layer, x, memory, key, a, self_mask, memory_mask))


def sinusoidal_table(max_len: int, d: int) -> np.ndarray:
    """The sin/cos table of PositionalEncoding (the PyTorch support module's formula, in float32):
    sin in the even columns, cos in the odd ones, of position · 10000^(-2i/d)."""
    position = np.arange(max_len, dtype=np.float32)[:, None]
    freq = np.exp(np.arange(0, d, 2, dtype=np.float32) * np.float32(-math.log(10000.0) / d))
    table = np.zeros((max_len, d), dtype=np.float32)
    table[:, 0::2] = np.sin(position * freq)
    table[:, 1::2] = np.cos(position * freq[: d // 2])
    return table


@lowers("PositionalEncoding")
def positional_encoding(layer: Layer) -> str:
    args = layer.args
    e, max_len, batch_first = int(args["d_model"]), int(args["max_len"]), bool(args["batch_first"])
    if args["kind"] == "learned":
        table = layer.param("pe", (max_len, e), Init("normal", 0.02))
    else:  # a non-persistent buffer in PyTorch: a constant of the graph, not a checkpoint tensor
        table = layer.const(sinusoidal_table(max_len, e), layer.float_dtype)
    t_axis = 1 if batch_first else 0
    steps = _dim(layer, layer.x, t_axis, layer.in_type.shape[t_axis])
    rows = layer.op("Slice", [table, layer.const([0]), steps, layer.const([0])])  # (T, d_model)
    if not batch_first:
        rows = layer.op("Reshape", [rows, layer.const([0, 1, e])])  # (T, 1, d_model)
    return layer.op("Add", [layer.x, rows])


@lowers("LearnedTokens")
def learned_tokens(layer: Layer) -> str:
    args = layer.args
    n, e, batch_first = int(args["num_tokens"]), int(args["d_model"]), bool(args["batch_first"])
    tokens = layer.param("tokens", (1, n, e), Init("normal", 0.02), layer.out.dtype)
    b_axis = 0 if batch_first else 1
    batch = _dim(layer, layer.x, b_axis, layer.in_type.shape[b_axis])
    if batch_first:
        return layer.op("Expand", [tokens, layer.op("Concat", [batch, layer.const([n, e])], axis=0)])
    tokens = layer.op("Transpose", [tokens], perm=[1, 0, 2])  # (n, 1, d_model)
    return layer.op("Expand", [tokens, layer.op("Concat", [layer.const([n]), batch, layer.const([e])], axis=0)])


@lowers("ClassToken")
def class_token(layer: Layer) -> str:
    args = layer.args
    n, e, batch_first = int(args["num_tokens"]), int(args["d_model"]), bool(args["batch_first"])
    token = layer.param("token", (1, n, e), ZEROS)
    b_axis = 0 if batch_first else 1
    batch = _dim(layer, layer.x, b_axis, layer.in_type.shape[b_axis])
    one = layer.const([1])
    if batch_first:
        tokens = layer.op("Expand", [token, layer.op("Concat", [batch, one, one], axis=0)])
        return layer.op("Concat", [tokens, layer.x], axis=1)
    token = layer.op("Transpose", [token], perm=[1, 0, 2])  # (n, 1, d_model)
    tokens = layer.op("Expand", [token, layer.op("Concat", [one, batch, one], axis=0)])
    return layer.op("Concat", [tokens, layer.x], axis=0)



def _latent_rms(layer: Layer, x: str, key: str, width: int) -> str:
    """DeepseekV3RMSNorm ``key`` over the last dim of ``x``: in float32, cast back, then times the weight."""
    w = layer.param(f"{key}.weight", (width,), ONES)
    f32 = layer.float_dtype != "float32"
    y = layer.op("Cast", [x], to=ELEM["float32"]) if f32 else x
    mean = reduce(layer, "ReduceMean", layer.op("Mul", [y, y]), [2], keepdims=True)
    y = layer.op("Div", [y, layer.op("Sqrt", [layer.op("Add", [mean, layer.const(float(layer.args["eps"]),
                                                                                  "float32")])])])
    y = layer.op("Cast", [y], to=ELEM[layer.float_dtype]) if f32 else y
    return layer.op("Mul", [w, y])


@lowers("MultiheadLatentAttention")
def latent_attention(layer: Layer) -> str:
    """support/latent_attention.py's MultiheadLatentAttention: the q path (q_proj, or q_a_proj, RMSNorm,
    q_b_proj), the latent and its rotary key from kv_a_proj_with_mqa (Gathers of its features), each head's
    key and value features from kv_b_proj, the rotary key Expanded to every head, Concat, scores, softmax."""
    args = layer.args
    e, h, bias = int(args["embed_dim"]), int(args["num_heads"]), bool(args["bias"])
    nope, r, vd = int(args["qk_nope_head_dim"]), int(args["qk_rope_head_dim"]), int(args["v_head_dim"])
    kv_rank, q_rank = int(args["kv_lora_rank"]), args["q_lora_rank"]
    qk = nope + r
    x_in, batch_first = layer.inputs[0], bool(args["batch_first"])
    t_axis = 1 if batch_first else 0
    t = layer.in_types[0].shape[t_axis]
    x = x_in if batch_first else layer.op("Transpose", [x_in], perm=[1, 0, 2])
    if q_rank is None:
        q = _linear(layer, x, "q_proj", e, h * qk, False)
    else:
        q = _linear(layer, x, "q_a_proj", e, int(q_rank), bias)
        q = _linear(layer, _latent_rms(layer, q, "q_a_layernorm", int(q_rank)), "q_b_proj", int(q_rank), h * qk, False)
    q = layer.op("Transpose", [layer.op("Reshape", [q, layer.const([0, 0, h, qk])])], perm=[0, 2, 1, 3])

    def part(v: str, start: int, stop: int, axis: int) -> str:
        return layer.op("Gather", [v, layer.const(list(range(start, stop)))], axis=axis)

    rotary = replace(layer, args={**args, "rotary_dim": r})
    q = layer.op("Concat", [part(q, 0, nope, 3), _rotary(rotary, part(q, nope, qk, 3), x_in, t_axis, t, r)], axis=3)
    compressed = _linear(layer, x, "kv_a_proj_with_mqa", e, kv_rank + r, bias)
    latent = _latent_rms(layer, part(compressed, 0, kv_rank, 2), "kv_a_layernorm", kv_rank)
    kv = _linear(layer, latent, "kv_b_proj", kv_rank, h * (nope + vd), False)
    kv = layer.op("Transpose", [layer.op("Reshape", [kv, layer.const([0, 0, h, nope + vd])])], perm=[0, 2, 1, 3])
    k_rot = _rotary(rotary, unsqueeze(layer, part(compressed, kv_rank, kv_rank + r, 2), [1]), x_in, t_axis, t, r)
    k_rot = layer.op("Expand", [k_rot, layer.const([1, h, 1, 1])])  # the one rotary key, every head's
    k = layer.op("Concat", [part(kv, 0, nope, 3), k_rot], axis=3)
    scores = layer.op("MatMul", [q, layer.op("Transpose", [k], perm=[0, 1, 3, 2])])
    scores = layer.op("Mul", [scores, _ft(layer, float(args["scale"]))])
    if args["causal"]:
        scores = layer.op("Add", [scores, _causal(layer, x_in, t_axis, t)])
    out = layer.op("MatMul", [layer.op("Softmax", [scores], axis=-1), part(kv, nope, nope + vd, 3)])
    out = layer.op("Reshape", [layer.op("Transpose", [out], perm=[0, 2, 1, 3]), layer.const([0, 0, h * vd])])
    out = _linear(layer, out, "o_proj", h * vd, e, bias)
    return out if batch_first else layer.op("Transpose", [out], perm=[1, 0, 2])
