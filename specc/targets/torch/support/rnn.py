"""Helpers for the bidirectional selections of RNN, LSTM and GRU (``output: last`` and
``final_hidden``); plain indexing, so they trace and export with dynamic B and T.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch

# -- written into generated modules: everything below this line --


def rnn_last(out: torch.Tensor, batch_first: bool = True) -> torch.Tensor:
    """Last step of a bidirectional RNN's output: the forward direction's last step
    beside the backward direction's first step (where it has read the whole sequence),
    not out[:, -1]."""
    if not batch_first:
        out = out.transpose(0, 1)
    half = out.size(-1) // 2
    return torch.cat([out[:, -1, :half], out[:, 0, half:]], dim=-1)


def rnn_final(h_n: torch.Tensor) -> torch.Tensor:
    """Top layer's final hidden state of a bidirectional RNN, both directions side by
    side."""
    return torch.cat([h_n[-2], h_n[-1]], dim=-1)
