"""Attention as LLaMA, Mistral, Qwen2, Gemma and GPT-NeoX write it: one nn.Linear per projection
(named as in Hugging Face's LlamaAttention: q_proj, k_proj, v_proj, o_proj), ``num_kv_heads``
key/value heads each shared by ``num_heads / num_kv_heads`` query heads (grouped-query attention;
1 is multi-query), heads of ``head_dim`` features (embed_dim / num_heads unless given, Gemma's 256),
and rotary position embeddings turning the first ``rotary_dim`` features of every query and key
head by angles position·base^(-2i/rotary_dim), stretched by ``rotary_scaling`` (Hugging Face's
rope_scaling: linear, llama3, yarn, longrope; the last two also scale cos and sin by their
attention factor).  The angles are computed in forward from the sequence's own length,
so one model runs at every length; positions are 0..T-1 for the queries and 0..S-1 for the keys.
``window`` (Mistral's sliding window) hides from query i every key j <= i - window;
``local_window`` (ModernBERT's bidirectional local attention, no causal mask) every key with
|i - j| > local_window // 2.  ``softcap``
(Gemma 2's attn_logit_softcapping) bounds the scaled scores to tanh(scores / softcap)·softcap before
the masks, which no fused kernel does: the scores are then computed as Hugging Face's eager attention
computes them, the softmax in float32.  ``qk_norm`` (Qwen3, Gemma 3: over each head; OLMo-2: over the
whole projection) RMS-normalises the queries and keys before the rotary, as q_norm and k_norm; its type
"layer" is Cohere's LayerNorm without bias (a weight per head with per_head), "l2" Llama 4's norm with no
weight (which commutes with the rotary: a rotation keeps each head's sum of squares).  ``clip_qkv`` (OLMo,
DBRX) clamps the q/k/v projections' outputs to ±clip_qkv before anything else reads them.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import math

import torch
from torch import nn
from torch.nn import functional as F

# -- written into generated modules: everything below this line --


class QKRMSNorm(nn.Module):
    """Hugging Face's Qwen3RMSNorm / Olmo2RMSNorm (Gemma3RMSNorm with add_unit_offset: times 1 + weight,
    the weight starting at 0) on attention's queries or keys: computed in float32, then cast back.
    ``kind`` "layer" takes the mean out first (CohereLayerNorm, no bias), "l2" has no weight (Llama 4's
    L2Norm); ``dim`` a tuple (num_heads, head_dim) is a weight for each head (Cohere)."""

    def __init__(
        self,
        dim: int | tuple[int, int],
        eps: float,
        add_unit_offset: bool = False,
        kind: str = "rms",
    ) -> None:
        super().__init__()
        self.eps, self.add_unit_offset, self.kind = eps, add_unit_offset, kind
        start = torch.zeros if add_unit_offset else torch.ones
        self.weight = None if kind == "l2" else nn.Parameter(start(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.float()
        if self.kind == "layer":
            y = y - y.mean(-1, keepdim=True)
        y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.eps)
        if self.weight is not None:
            weight = self.weight.float()
            y = y * (1.0 + weight) if self.add_unit_offset else y * weight
        return y.to(x.dtype)


class GroupedQueryAttention(nn.Module):
    """softmax(q·kᵀ·scale)·v over heads of embed_dim / num_heads features, q and k turned by rotary
    embeddings when rotary_dim is given; query head h reads key/value head h // (num_heads / num_kv_heads)
    (Hugging Face's repeat_kv)."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        num_kv_heads: int,
        bias: bool = True,
        kdim: int | None = None,
        vdim: int | None = None,
        dropout: float = 0.0,
        batch_first: bool = True,
        scale: float | None = None,
        causal: bool = False,
        rotary_dim: int | None = None,
        rotary_base: float = 10000.0,
        rotary_interleaved: bool = False,
        head_dim: int | None = None,
        out_bias: bool | None = None,
        window: int | None = None,
        rotary_scaling: dict | None = None,
        softcap: float | None = None,
        local_window: int | None = None,
        qk_norm: dict | None = None,
        clip_qkv: float | None = None,
    ) -> None:
        super().__init__()
        self.num_heads, self.num_kv_heads = num_heads, num_kv_heads
        self.head_dim = head_dim or embed_dim // num_heads
        q_dim, kv_dim = num_heads * self.head_dim, num_kv_heads * self.head_dim
        self.q_proj = nn.Linear(embed_dim, q_dim, bias=bias)
        self.k_proj = nn.Linear(kdim or embed_dim, kv_dim, bias=bias)
        self.v_proj = nn.Linear(vdim or embed_dim, kv_dim, bias=bias)
        out_bias = bias if out_bias is None else out_bias
        self.o_proj = nn.Linear(q_dim, embed_dim, bias=out_bias)
        self.qk_norm_all = bool(qk_norm and qk_norm["over"] == "all")
        if qk_norm:  # Qwen3, Gemma 3: one weight of head_dim for every head; OLMo-2: the whole projection
            eps, unit = qk_norm["eps"], qk_norm["add_unit_offset"]
            kind = qk_norm.get("type", "rms")
            q_w, k_w = (q_dim, kv_dim) if self.qk_norm_all else (self.head_dim,) * 2
            if qk_norm.get("per_head"):  # Cohere: (num_heads, head_dim) for q, (num_kv_heads, head_dim) for k
                q_w, k_w = (num_heads, self.head_dim), (num_kv_heads, self.head_dim)
            self.q_norm = QKRMSNorm(q_w, eps, unit, kind)
            self.k_norm = QKRMSNorm(k_w, eps, unit, kind)
        else:
            self.q_norm = self.k_norm = None
        self.clip_qkv = clip_qkv
        self.dropout, self.batch_first, self.scale, self.causal = (
            dropout,
            batch_first,
            scale,
            causal,
        )
        self.rotary_dim, self.rotary_base = rotary_dim, rotary_base
        self.rotary_interleaved = rotary_interleaved
        self.window, self.rotary_scaling = window, rotary_scaling
        self.softcap, self.local_window = softcap, local_window

    def inv_freq(self, device: torch.device, positions: torch.Tensor) -> torch.Tensor:
        """Each pair's angle per position, in float32 whatever x's type, as Hugging Face computes
        them (no buffer: .half() would round it); scaled as its rope_scaling (linear, llama3, yarn,
        longrope: the long factors once ``positions`` run past the trained context)."""
        d = self.rotary_dim
        steps = torch.arange(0, d, 2, device=device, dtype=torch.int64).float() / d
        scaling = self.rotary_scaling
        kind = scaling["type"] if scaling else None
        if kind == "longrope":  # Phi-3: one factor per pair, short or long by the sequence's length
            old = scaling["original_max_position_embeddings"]
            short, long = (
                torch.tensor(scaling[k], dtype=torch.float32, device=device)
                for k in ("short_factor", "long_factor")
            )
            factors = torch.where(positions[-1:] >= old, long, short)
            return 1.0 / (factors * self.rotary_base**steps)
        if kind == "yarn":
            return self.yarn(steps, scaling)
        inv_freq = 1.0 / (self.rotary_base**steps)
        if kind is None:
            return inv_freq
        factor = scaling["factor"]
        if kind == "linear":  # position interpolation: positions / factor
            return inv_freq / factor
        # LLaMA 3.1: long wavelengths slowed by factor, short ones kept, the band between blended
        old = scaling["original_max_position_embeddings"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        wavelen = 2 * torch.pi / inv_freq
        smooth = (old / wavelen - low) / (high - low)
        blended = (1 - smooth) * inv_freq / factor + smooth * inv_freq
        kept = torch.where(wavelen < old / high, inv_freq, blended)
        return torch.where(wavelen > old / low, inv_freq / factor, kept)

    def yarn(self, steps: torch.Tensor, scaling: dict) -> torch.Tensor:
        """Hugging Face's _compute_yarn_parameters: pairs turning more than beta_fast times over the
        trained context keep their frequency, those under beta_slow are divided by factor, a linear
        ramp between."""
        d, base, factor = self.rotary_dim, self.rotary_base, scaling["factor"]
        old = scaling["original_max_position_embeddings"]

        def pair(rotations: float) -> float:
            turns = math.log(old / (rotations * 2 * math.pi))
            return d * turns / (2 * math.log(base))

        low, high = pair(scaling["beta_fast"]), pair(scaling["beta_slow"])
        if scaling["truncate"]:
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, d - 1)
        if low == high:
            high += 0.001  # Hugging Face's guard against a ramp of no width
        offset = torch.arange(d // 2, dtype=torch.float32, device=steps.device) - low
        ramp = offset / (high - low)
        kept = 1 - torch.clamp(ramp, 0, 1)
        pos_freqs = base**steps
        return (1.0 / (factor * pos_freqs)) * (1 - kept) + (1.0 / pos_freqs) * kept

    def rotate(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, heads, T, head_dim) with its first rotary_dim features turned by position."""
        d = self.rotary_dim
        positions = torch.arange(x.shape[2], device=x.device, dtype=torch.float32)
        angles = torch.outer(positions, self.inv_freq(x.device, positions))  # (T, d / 2)
        turned, kept = x[..., :d], x[..., d:]
        if self.rotary_interleaved:  # pairs (0, 1), (2, 3)...: GPT-J, Meta's LLaMA
            angles = angles[:, :, None].expand(-1, -1, 2).flatten(-2)
            pairs = turned.reshape(*turned.shape[:-1], d // 2, 2)
            half = torch.cat((-pairs[..., 1:], pairs[..., :1]), dim=-1).flatten(-2)
        else:  # pairs (i, i + d/2): Hugging Face's rotate_half
            angles = torch.cat((angles, angles), dim=-1)
            half = torch.cat((-turned[..., d // 2 :], turned[..., : d // 2]), dim=-1)
        cos, sin = angles.cos(), angles.sin()
        if self.rotary_scaling and "attention_factor" in self.rotary_scaling:  # yarn, longrope
            cos = cos * self.rotary_scaling["attention_factor"]
            sin = sin * self.rotary_scaling["attention_factor"]
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        return torch.cat((turned * cos + half * sin, kept), dim=-1)

    def capped(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """Gemma 2's eager attention: the scaled scores softcapped, then masked, softmax in float32."""
        scale = self.head_dim**-0.5 if self.scale is None else self.scale
        scores = torch.matmul(q, k.transpose(2, 3)) * scale
        scores = torch.tanh(scores / self.softcap) * self.softcap
        if mask is not None:
            scores = scores + mask
        weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        weights = F.dropout(weights, p=self.dropout, training=self.training)
        return torch.matmul(weights, v)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """key_padding_mask (B, S): true (or -inf) at the keys no query may read, as in
        nn.MultiheadAttention; a query row whose keys are all hidden gives 0."""
        if not self.batch_first:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        b, t, s = query.shape[0], query.shape[1], key.shape[1]
        q, k, v = self.q_proj(query), self.k_proj(key), self.v_proj(value)
        if self.clip_qkv is not None:  # OLMo, DBRX: before the norms and the rotary read them
            q, k, v = (x.clamp(-self.clip_qkv, self.clip_qkv) for x in (q, k, v))
        if self.qk_norm_all:  # OLMo-2: over the whole projection, before the heads split
            q, k = self.q_norm(q), self.k_norm(k)
        q = q.view(b, t, self.num_heads, self.head_dim)
        k = k.view(b, s, self.num_kv_heads, self.head_dim)
        if self.q_norm is not None and not self.qk_norm_all:  # Qwen3, Gemma 3: each head
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = v.view(b, s, self.num_kv_heads, self.head_dim).transpose(1, 2)
        if self.rotary_dim:
            q, k = self.rotate(q), self.rotate(k)
        groups = self.num_heads // self.num_kv_heads
        if groups > 1:
            k = k[:, :, None].expand(b, self.num_kv_heads, groups, s, self.head_dim)
            k = k.reshape(b, self.num_heads, s, self.head_dim)
            v = v[:, :, None].expand(b, self.num_kv_heads, groups, s, self.head_dim)
            v = v.reshape(b, self.num_heads, s, self.head_dim)
        mask, hidden, later = None, None, None
        masked = key_padding_mask is not None or self.window or self.softcap
        if self.causal and masked:
            ones = torch.ones(t, s, dtype=torch.bool, device=q.device)
            later = ones.triu(1)
            if self.window:  # Mistral: query i sees keys i - window + 1 .. i
                later = later | ones.tril(-self.window)
        elif self.local_window:  # ModernBERT: query i sees keys j with |i - j| <= local_window // 2
            ones = torch.ones(t, s, dtype=torch.bool, device=q.device)
            half = self.local_window // 2
            later = ones.triu(half + 1) | ones.tril(-half - 1)
        if key_padding_mask is not None:
            if key_padding_mask.dtype == torch.bool:
                zeros = torch.zeros(
                    key_padding_mask.shape, dtype=q.dtype, device=q.device
                )
                key_padding_mask = zeros.masked_fill(key_padding_mask, float("-inf"))
            mask = key_padding_mask.to(q.dtype)[:, None, None, :]  # (B, 1, 1, S)
            if later is not None:
                mask = mask.masked_fill(later, float("-inf"))
            # A row with every key hidden would be NaN: it attends to nothing (0), with finite gradients.
            hidden = (mask == float("-inf")).all(-1, keepdim=True)
            mask = mask.masked_fill(hidden, 0.0)
        elif later is not None:  # each query keeps itself: no row is all hidden
            mask = torch.zeros(t, s, dtype=q.dtype, device=q.device)
            mask = mask.masked_fill(later, float("-inf"))
        if self.softcap:
            out = self.capped(q, k, v, mask)
        else:
            out = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=mask,
                dropout_p=self.dropout if self.training else 0.0,
                is_causal=self.causal and mask is None,
                scale=self.scale,
            )
        if hidden is not None:
            out = out.masked_fill(hidden, 0.0)
        out = self.o_proj(
            out.transpose(1, 2).reshape(b, t, self.num_heads * self.head_dim)
        )
        return out if self.batch_first else out.transpose(0, 1)
