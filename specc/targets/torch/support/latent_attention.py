"""DeepSeek-V2/V3's multi-head latent attention (MLA), as Hugging Face's DeepseekV3Attention writes it
(q_a_proj, q_a_layernorm, q_b_proj or q_proj; kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj; o_proj).
The rotary of the decoupled features is GroupedQueryAttention's (the same angles, scalings and pair
layouts), called on this module's own settings.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn
from torch.nn import functional as F

from .grouped_attention import GroupedQueryAttention

# -- written into generated modules: everything below this line --


class LatentRMSNorm(nn.Module):
    """DeepseekV3RMSNorm: computed in float32, weight times the result cast back."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps, self.weight = eps, nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.float()
        y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * y.to(x.dtype)


class MultiheadLatentAttention(nn.Module):
    """Queries through a q_lora_rank bottleneck (or q_proj), keys and values expanded per head from one
    kv_lora_rank latent, and a rotary key of qk_rope_head_dim features shared by every head."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        kv_lora_rank: int,
        q_lora_rank: int | None,
        qk_nope_head_dim: int,
        qk_rope_head_dim: int,
        v_head_dim: int,
        eps: float = 1e-6,
        bias: bool = False,
        dropout: float = 0.0,
        causal: bool = False,
        batch_first: bool = True,
        scale: float | None = None,
        rotary_base: float = 10000.0,
        rotary_interleaved: bool = False,
        rotary_scaling: dict | None = None,
    ) -> None:
        super().__init__()
        self.num_heads, self.kv_lora_rank = num_heads, kv_lora_rank
        self.nope, self.rope, self.v_dim = qk_nope_head_dim, qk_rope_head_dim, v_head_dim
        qk = qk_nope_head_dim + qk_rope_head_dim
        if q_lora_rank is None:
            self.q_proj = nn.Linear(embed_dim, num_heads * qk, bias=False)
        else:
            self.q_a_proj = nn.Linear(embed_dim, q_lora_rank, bias=bias)
            self.q_a_layernorm = LatentRMSNorm(q_lora_rank, eps)
            self.q_b_proj = nn.Linear(q_lora_rank, num_heads * qk, bias=False)
        self.q_lora_rank = q_lora_rank
        latent = kv_lora_rank + qk_rope_head_dim
        self.kv_a_proj_with_mqa = nn.Linear(embed_dim, latent, bias=bias)
        self.kv_a_layernorm = LatentRMSNorm(kv_lora_rank, eps)
        per_head = num_heads * (qk_nope_head_dim + v_head_dim)
        self.kv_b_proj = nn.Linear(kv_lora_rank, per_head, bias=False)
        self.o_proj = nn.Linear(num_heads * v_head_dim, embed_dim, bias=bias)
        self.dropout, self.causal, self.batch_first = dropout, causal, batch_first
        self.scale = qk**-0.5 if scale is None else scale
        self.rotary_dim, self.rotary_base = qk_rope_head_dim, rotary_base
        self.rotary_interleaved, self.rotary_scaling = rotary_interleaved, rotary_scaling

    def inv_freq(self, device: torch.device, positions: torch.Tensor) -> torch.Tensor:
        return GroupedQueryAttention.inv_freq(self, device, positions)

    def yarn(self, steps: torch.Tensor, scaling: dict) -> torch.Tensor:
        return GroupedQueryAttention.yarn(self, steps, scaling)

    def rotate(self, x: torch.Tensor) -> torch.Tensor:
        return GroupedQueryAttention.rotate(self, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.batch_first:
            x = x.transpose(0, 1)
        b, t = x.shape[0], x.shape[1]
        if self.q_lora_rank is None:
            q = self.q_proj(x)
        else:
            q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
        q = q.view(b, t, self.num_heads, self.nope + self.rope).transpose(1, 2)
        q_nope, q_rot = q.split([self.nope, self.rope], dim=-1)
        latent, k_rot = self.kv_a_proj_with_mqa(x).split(
            [self.kv_lora_rank, self.rope], dim=-1
        )
        kv = self.kv_b_proj(self.kv_a_layernorm(latent))
        kv = kv.view(b, t, self.num_heads, self.nope + self.v_dim).transpose(1, 2)
        k_nope, v = kv.split([self.nope, self.v_dim], dim=-1)
        q_rot = self.rotate(q_rot)
        k_rot = self.rotate(k_rot.view(b, 1, t, self.rope))
        q = torch.cat((q_nope, q_rot), dim=-1)
        k = torch.cat((k_nope, k_rot.expand(b, self.num_heads, t, self.rope)), dim=-1)
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=self.causal,
            scale=self.scale,
        )
        out = self.o_proj(out.transpose(1, 2).reshape(b, t, self.num_heads * self.v_dim))
        return out if self.batch_first else out.transpose(0, 1)
