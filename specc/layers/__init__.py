"""The layer catalogue. Each module registers its kinds; the list below is the whole catalogue."""

from . import (  # noqa: F401  (registration on import)
    activation,
    attention,
    conv,
    convlstm,
    dropout,
    embedding,
    linear,
    merge,
    norm,
    pool,
    recurrent,
    reduce,
    reshape,
    wrappers,
)
from .base import ALIASES, REGISTRY, LayerKind, LayerParams, LayerResult, lookup, register, suggest

__all__ = ["ALIASES", "REGISTRY", "LayerKind", "LayerParams", "LayerResult", "lookup", "register", "suggest"]
