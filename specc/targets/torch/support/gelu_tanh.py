"""GELU's tanh approximation as a Transformer layer's activation (GPT-2's ``gelu_new``).

nn.TransformerEncoderLayer takes "relu", "gelu" or a callable.  nn.GELU(approximate="tanh")
would be the obvious callable, but PyTorch's fused inference path (eval, no autograd) sees an
nn.GELU and runs its exact GELU kernel: predict would then disagree with training and with the
exported model.  A plain function keeps every path on the approximation.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch.nn import functional as F

# -- written into generated modules: everything below this line --


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): a Transformer layer's activation: gelu_tanh."""
    return F.gelu(x, approximate="tanh")
