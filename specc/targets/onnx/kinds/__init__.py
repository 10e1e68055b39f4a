"""The ONNX lowering of every layer kind, one module per family (named as in ``specc/layers/``).

Importing a family module registers its kinds' lowerings; ``LOWERINGS`` imports a kind's family
on its first lookup (``specc/layers/catalogue.py`` says which), so a new family file needs no
line here, only its name in the catalogue."""

from .base import LOWERINGS, Layer, Unsupported, lower, lowers

__all__ = ["LOWERINGS", "Layer", "Unsupported", "lower", "lowers"]
