"""The ONNX lowering of every layer kind, one module per family (as ``specc/layers/``).

Every module of this package is a family: importing it registers its kinds' lowerings, so a
new family file needs no line here."""

import importlib
import pkgutil

from .base import LOWERINGS, Layer, Unsupported, lower, lowers

for _family in pkgutil.iter_modules(__path__):
    if _family.name != "base":
        importlib.import_module(f"{__name__}.{_family.name}")

__all__ = ["LOWERINGS", "Layer", "Unsupported", "lower", "lowers"]
