"""TimeDistributed's unfold.  unflatten(0, x.shape[:2]) would be shorter, but the TorchScript
ONNX exporter freezes B and T in it once two of them are chained; reshape keeps them dynamic.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch

# -- written into generated modules: everything below this line --


def unfold_steps(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(B·T, ...) back to (B, T, ...), B and T read from the sequence x of the steps."""
    return y.reshape(x.shape[:2] + y.shape[1:])
