"""nn.MultiheadAttention with a given scale of the scores (T5 attends with q·kᵀ unscaled).

PyTorch's attention always divides the scores by √head_dim and takes no scale.  This subclass
keeps every parameter under PyTorch's name (a checkpoint of nn.MultiheadAttention loads as it is)
and scales the query projection on the fly by scale·√head_dim, which PyTorch's division then
brings to ``scale``: exact, and gradients reach the weights as written.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import math

import torch
from torch import nn
from torch.nn import functional as F

# -- written into generated modules: everything below this line --


class ScaledMultiheadAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention whose scores are (q·kᵀ)·scale; scale None is PyTorch's 1/√head_dim."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        scale: float | None = None,
        **kwargs: bool | float | int | None,
    ) -> None:
        super().__init__(embed_dim, num_heads, **kwargs)  # type: ignore[arg-type]
        self.scale = scale

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.scale is None:
            return super().forward(
                query,
                key,
                value,
                key_padding_mask=key_padding_mask,
                need_weights=need_weights,
                attn_mask=attn_mask,
                average_attn_weights=average_attn_weights,
                is_causal=is_causal,
            )
        # PyTorch divides q by √head_dim: the query projection times scale·√head_dim gives `scale`.
        factor = self.scale * math.sqrt(self.head_dim)
        e = self.embed_dim
        in_w, q_w = self.in_proj_weight, self.q_proj_weight
        if self._qkv_same_embed_dim:
            in_w = torch.cat([in_w[:e] * factor, in_w[e:]])
        else:
            q_w = q_w * factor
        in_b = self.in_proj_bias
        if in_b is not None:
            in_b = torch.cat([in_b[:e] * factor, in_b[e:]])
        if self.batch_first:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        out, weights = F.multi_head_attention_forward(
            query,
            key,
            value,
            e,
            self.num_heads,
            in_w,
            in_b,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=q_w,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        return (out.transpose(0, 1) if self.batch_first else out), weights
