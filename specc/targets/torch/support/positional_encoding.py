"""The PositionalEncoding module, which PyTorch lacks.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import math

import torch
from torch import nn

# -- written into generated modules: everything below this line --


class PositionalEncoding(nn.Module):
    """Adds position information to a (B, T, d_model) sequence ((T, B, d_model) when
    not batch_first).

    kind="sinusoidal": the fixed sin/cos table of "Attention Is All You Need" (a
    buffer, no parameters); kind="learned": a trained (max_len, d_model) table.  The
    table is sliced to the input's length, so one model serves every T <= max_len and
    ONNX export keeps T dynamic.
    """

    def __init__(
        self,
        d_model: int,
        max_len: int = 512,
        kind: str = "sinusoidal",
        dropout: float = 0.0,
        batch_first: bool = True,
    ) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.dropout = nn.Dropout(dropout)
        if kind == "learned":
            self.pe = nn.Parameter(torch.empty(max_len, d_model))
            nn.init.normal_(self.pe, std=0.02)
        else:
            position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
            rate = -math.log(10000.0) / d_model
            freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * rate)
            table = torch.zeros(max_len, d_model)
            table[:, 0::2] = torch.sin(position * freq)
            table[:, 1::2] = torch.cos(position * freq[: d_model // 2])
            self.register_buffer("pe", table, persistent=False)  # recomputed, not saved

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in x's dtype: float16 data plus a float32 table would promote to float32
        if self.batch_first:
            return self.dropout(x + self.pe[: x.size(1)].to(x.dtype))
        return self.dropout(x + self.pe[: x.size(0)].unsqueeze(1).to(x.dtype))
