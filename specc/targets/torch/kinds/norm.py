"""PyTorch lowering of the normalisations."""

from __future__ import annotations

from typing import Any

from .base import Lowering, lowering


class _BatchNorm(Lowering):
    positional = ("num_features",)
    defaults = {"eps": 1e-5, "momentum": 0.1, "affine": True, "track_running_stats": True}


class _InstanceNorm(_BatchNorm):
    defaults = {"eps": 1e-5, "momentum": 0.1, "affine": False, "track_running_stats": False}


@lowering
class BatchNorm1d(_BatchNorm):
    torch_class = "nn.BatchNorm1d"


@lowering
class BatchNorm2d(_BatchNorm):
    torch_class = "nn.BatchNorm2d"


@lowering
class BatchNorm3d(_BatchNorm):
    torch_class = "nn.BatchNorm3d"


@lowering
class InstanceNorm1d(_InstanceNorm):
    torch_class = "nn.InstanceNorm1d"


@lowering
class InstanceNorm2d(_InstanceNorm):
    torch_class = "nn.InstanceNorm2d"


@lowering
class InstanceNorm3d(_InstanceNorm):
    torch_class = "nn.InstanceNorm3d"


@lowering
class LayerNorm(Lowering):
    torch_class = "nn.LayerNorm"
    positional = ("normalized_shape",)
    defaults = {"eps": 1e-5, "elementwise_affine": True, "bias": True}


@lowering
class RMSNorm(Lowering):
    torch_class = "RMSNorm"
    support = ("rms_norm",)
    positional = ("normalized_shape",)
    defaults = {"eps": None, "elementwise_affine": True, "add_unit_offset": False}


@lowering
class LayerScale(Lowering):
    torch_class = "LayerScale"
    support = ("layer_scale",)
    positional = ("num_features",)
    defaults = {"init_values": 1e-5, "dim": -1, "bias": False}


@lowering
class GroupNorm(Lowering):
    torch_class = "nn.GroupNorm"
    positional = ("num_groups", "num_channels")
    defaults = {"eps": 1e-5, "affine": True}


@lowering
class Normalize(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"F.normalize({inputs[0]}, p={float(args['p'])!r}, dim={args['dim']}, eps={float(args['eps'])!r})"
