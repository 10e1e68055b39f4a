"""The Triangle module (the lower triangle of a matrix, flattened row by row), which PyTorch lacks as
a module: DLRM writes it as ``Z[:, li, lj]`` with ``torch.tril_indices``.

The positions are computed once, as numbers in the flattened matrix, so that both ONNX exporters
write one Gather of constants (torch.tril_indices has no ONNX export of its own).

A real module so that ruff lints it and tests import it; the emitter reads the text below
the marker (``specc.targets.torch.support.text``)."""

import torch
from torch import nn

# -- written into generated modules: everything below this line --


class Triangle(nn.Module):
    """x[..., i, j] for j <= i + offset, in torch.tril_indices(rows, cols, offset)'s order."""

    def __init__(self, rows: int, cols: int, offset: int = -1) -> None:
        super().__init__()
        self.index = [i * cols + j for i in range(rows) for j in range(cols) if j <= i + offset]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(-2)[..., self.index]
