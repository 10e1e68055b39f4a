"""The layer catalogue. Each module registers its kinds; the list below is the whole catalogue."""

from . import activation, conv, linear, merge  # noqa: F401  (registration on import)
from .base import ALIASES, REGISTRY, LayerKind, LayerParams, LayerResult, lookup, register, suggest

__all__ = ["ALIASES", "REGISTRY", "LayerKind", "LayerParams", "LayerResult", "lookup", "register", "suggest"]
