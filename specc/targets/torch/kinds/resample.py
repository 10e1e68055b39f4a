"""PyTorch lowering of the resampling layers: Upsample is nn.Upsample."""

from __future__ import annotations

from .base import Lowering, lowering


@lowering
class Upsample(Lowering):
    torch_class = "nn.Upsample"
    defaults = {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None}
