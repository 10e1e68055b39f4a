"""The layer catalogue: backend-neutral op schemas. Each module registers its kinds; the list
below is the whole catalogue. How a target writes each kind lives under specc/targets/."""

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
    pad,
    pool,
    recurrent,
    reduce,
    resample,
    reshape,
    wrappers,
)
from .base import ALIASES, REGISTRY, Form, LayerKind, LayerParams, LayerResult, NoParams, lookup, register, suggest
from .check import check_layer

__all__ = ["ALIASES", "REGISTRY", "Form", "LayerKind", "LayerParams", "LayerResult", "NoParams", "check_layer",
           "lookup", "register", "suggest"]
