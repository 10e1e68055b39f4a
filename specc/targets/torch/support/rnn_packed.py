"""The helper of RNN, LSTM and GRU given each sample's length (``from: [x, lengths]``).

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn

# -- written into generated modules: everything below this line --


def rnn_packed(
    rnn: nn.RNNBase,
    x: torch.Tensor,
    lengths: torch.Tensor,
    state: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
    """``rnn(x, state)`` over each sample's first ``lengths`` steps only (a packed sequence):
    the output is 0 past a sample's length and the final state is the one at its last real
    step.  A length below 1 is read as 1: PyTorch refuses an empty sequence."""
    steps = x.size(1 if rnn.batch_first else 0)
    packed = nn.utils.rnn.pack_padded_sequence(
        x, lengths.clamp(min=1).cpu(), batch_first=rnn.batch_first, enforce_sorted=False
    )
    out, state = rnn(packed, state)
    out, _ = nn.utils.rnn.pad_packed_sequence(
        out, batch_first=rnn.batch_first, total_length=steps
    )
    return out, state
