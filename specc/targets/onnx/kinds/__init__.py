"""The ONNX lowering of every layer kind, one module per family (as ``specc/layers/``)."""

from . import activation, dropout, linear  # noqa: F401 -- each module registers its kinds' lowerings
from .base import LOWERINGS, Layer, Unsupported, lowers

__all__ = ["LOWERINGS", "Layer", "Unsupported", "lowers"]
