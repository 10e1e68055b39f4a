"""The helper of ``output: sequence_and_state`` on RNN, LSTM and GRU: one flat tuple of outputs.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

# -- written into generated modules: everything below this line --


def rnn_with_state(result: tuple) -> tuple:
    """An RNN's ``(out, h_n)`` as it is, an LSTM's ``(out, (h_n, c_n))`` as ``(out, h_n, c_n)``:
    the outputs ``.sequence``, ``.h`` and ``.c``."""
    out, state = result
    return (out, *state) if isinstance(state, tuple) else (out, state)
