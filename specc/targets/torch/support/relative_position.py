"""RelativePositionBucket, RelativePositionIndex, ALiBi and CausalMask: T5's relative position
buckets (HF transformers' ``T5Attention._relative_position_bucket`` and ``compute_bias``), the
window index of timm's Swin (``get_relative_position_index``) and BEiT
(``gen_relative_position_index``), BLOOM's ALiBi biases and the causal mask of a hand-written
attention (nanoGPT's ``tril`` buffer), from the lengths at run time; PyTorch has none of them.

The buckets are HF's operations in HF's order (the log-spaced offsets computed in float32 and
truncated), so the ids are T5's bit for bit.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import math

import torch
from torch import nn

# -- written into generated modules: everything below this line --


def relative_position_bucket(
    query_length: int,
    key_length: int,
    device: torch.device,
    bidirectional: bool = True,
    num_buckets: int = 32,
    max_distance: int = 128,
) -> torch.Tensor:
    """T5's bucket of key - query for each (query, key) pair, (query_length, key_length) int64: half the
    buckets (of each direction, when bidirectional) are exact offsets, the rest log-spaced up to
    max_distance; farther offsets share the last bucket."""
    context_position = torch.arange(query_length, dtype=torch.long, device=device)[
        :, None
    ]
    memory_position = torch.arange(key_length, dtype=torch.long, device=device)[None, :]
    relative_position = memory_position - context_position
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(
            relative_position, torch.zeros_like(relative_position)
        )
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    relative_position_if_large = max_exact + (
        torch.log(relative_position.float() / max_exact)
        / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).to(torch.long)
    relative_position_if_large = torch.min(
        relative_position_if_large,
        torch.full_like(relative_position_if_large, num_buckets - 1),
    )
    relative_buckets += torch.where(
        is_small, relative_position, relative_position_if_large
    )
    return relative_buckets


class RelativePositionIndex(nn.Module):
    """The id of the (dy, dx) offset between each pair of a window's tokens, (N, N) with N = Wh·Ww
    (+1 with a class token, whose three ids follow the (2Wh - 1)(2Ww - 1) offsets; with absolute, the
    id of (|dy|, |dx|), LeViT's): a buffer, not saved with the weights, as timm keeps it."""

    def __init__(
        self, window: tuple[int, int], class_token: bool = False, absolute: bool = False
    ) -> None:
        super().__init__()
        wh, ww = window
        coords = torch.stack(
            torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")
        ).flatten(1)
        if absolute:  # LeViT's attention_bias_idxs: the offset's size, |dy|·Ww + |dx|
            rel_pos = (coords[..., :, None] - coords[..., None, :]).abs()
            index = rel_pos[0] * ww + rel_pos[1]
            self.register_buffer("relative_position_index", index, persistent=False)
            return
        relative_coords = (coords[:, :, None] - coords[:, None, :]).permute(
            1, 2, 0
        )  # (N, N, 2)
        relative_coords[:, :, 0] += wh - 1  # shift to start from 0
        relative_coords[:, :, 1] += ww - 1
        relative_coords[:, :, 0] *= 2 * ww - 1
        index = relative_coords.sum(-1)
        if class_token:
            offsets = (2 * wh - 1) * (2 * ww - 1)
            index = nn.functional.pad(index, (1, 0, 1, 0))
            index[0, :] = offsets  # class token to token
            index[:, 0] = offsets + 1  # token to class token
            index[0, 0] = offsets + 2
        self.register_buffer("relative_position_index", index, persistent=False)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.relative_position_index


def alibi_slopes(
    num_heads: int, max_bias: float = 8.0, device: torch.device | None = None
) -> torch.Tensor:
    """ALiBi's slope of each head, as MPT's gen_slopes (BLOOM's for max_bias 8): 2^(-max_bias·k / n) for
    k = 1..n, n the heads rounded up to a power of 2, the odd-numbered first for other head counts."""
    n = 2 ** math.ceil(math.log2(num_heads))
    m = torch.arange(1, n + 1, dtype=torch.float32, device=device).mul(max_bias / n)
    slopes = 1.0 / torch.pow(2, m)
    if n != num_heads:
        slopes = torch.cat([slopes[1::2], slopes[::2]])[:num_heads]
    return slopes


def alibi_bias(
    query_length: int,
    key_length: int,
    num_heads: int,
    device: torch.device,
    max_bias: float = 8.0,
    symmetric: bool = False,
) -> torch.Tensor:
    """Each head's slope times key - query (-|key - query| when symmetric), (num_heads, query_length,
    key_length): the scores' linear bias."""
    context_position = torch.arange(query_length, device=device)[:, None]
    memory_position = torch.arange(key_length, device=device)[None, :]
    relative_position = memory_position - context_position
    if symmetric:
        relative_position = -relative_position.abs()
    slopes = alibi_slopes(num_heads, max_bias, device)
    return slopes[:, None, None] * relative_position


def causal_mask(
    query_length: int,
    key_length: int,
    device: torch.device,
    diagonal: int = 1,
    window: int | None = None,
) -> torch.Tensor:
    """True where key j is hidden from query i, (query_length, key_length) bool: j - i >= diagonal
    (the keys after each query), and with a window also j <= i - window (too far back)."""
    ones = torch.ones(query_length, key_length, dtype=torch.bool, device=device)
    mask = ones.triu(diagonal)
    if window is not None:
        mask = mask | ones.tril(-window)
    return mask
