"""The ONNX lowering of every layer kind, one module per family (as ``specc/layers/``).

Importing a family module registers its kinds' lowerings; add one line per family."""

from . import activation  # noqa: F401
from . import dropout  # noqa: F401
from . import linear  # noqa: F401
from .base import LOWERINGS, Layer, Unsupported, lowers

__all__ = ["LOWERINGS", "Layer", "Unsupported", "lowers"]
