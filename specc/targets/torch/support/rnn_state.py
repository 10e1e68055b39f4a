"""The helper of ``output: sequence_and_state`` on RNN, LSTM and GRU: one flat tuple of outputs.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch

# -- written into generated modules: everything below this line --


def rnn_with_state(
    out: torch.Tensor, state: torch.Tensor | tuple[torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, ...]:
    """An RNN's ``out, h_n`` as they are, an LSTM's ``out, (h_n, c_n)`` as ``(out, h_n, c_n)``: the
    outputs ``.sequence``, ``.h`` and ``.c``."""
    return (out, *state) if isinstance(state, tuple) else (out, state)
