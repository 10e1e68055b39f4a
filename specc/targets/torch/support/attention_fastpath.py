"""Attention called off PyTorch's fused inference kernel, for layers whose key-padding mask joins
an attention (or causal) mask.  Where the two together hide every key of a row, that kernel (taken
at eval without autograd: predict, evaluate) gives NaN, while PyTorch's other path (the one
training takes) gives 0, as the direct ONNX export does: one model, one answer.

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn

# -- written into generated modules: everything below this line --


def off_fastpath(layer: nn.Module, *args: object, **kwargs: object) -> object:
    """``layer(*args, **kwargs)`` with PyTorch's fused attention kernel turned off for the call:
    a row whose keys the masks all hide gives 0 (not NaN) at eval as in training."""
    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        return layer(*args, **kwargs)
    finally:
        torch.backends.mha.set_fastpath_enabled(before)
