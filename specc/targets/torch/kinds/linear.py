"""PyTorch lowering of Linear."""

from __future__ import annotations

from .base import Lowering, lowering


@lowering
class Linear(Lowering):
    torch_class = "nn.Linear"
    positional = ("in_features", "out_features")
    defaults = {"bias": True}

