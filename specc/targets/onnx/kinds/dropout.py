"""ONNX lowering of the dropouts: the exported model is for inference, where every dropout
passes its input through unchanged (as PyTorch's module does in eval mode)."""

from __future__ import annotations

from .base import Layer, lowers


@lowers("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout", "StochasticDepth")
def identity(layer: Layer) -> str:
    return layer.op("Identity", [layer.x])
