"""PyTorch lowering of Mamba: the MambaMixer support class (HF's MambaMixer reference path), which PyTorch lacks."""

from __future__ import annotations

from .base import Lowering, lowering


@lowering
class Mamba(Lowering):
    torch_class = "MambaMixer"
    support = ("mamba",)
    positional = ("d_model", "d_inner")
    defaults = {"d_state": 16, "d_conv": 4, "dt_rank": None, "conv_bias": True, "bias": False,
                "dt_min": 0.001, "dt_max": 0.1, "dt_init_floor": 1e-4, "dt_scale": 1.0, "dt_init": "random"}
