"""The PyTorch lowering of every layer kind, one module per family of ``specc/layers/``."""

from . import (  # noqa: F401  (registration on import)
    activation,
    attention,
    conv,
    convlstm,
    dropout,
    embedding,
    index,
    linear,
    merge,
    norm,
    pad,
    pool,
    recurrent,
    reduce,
    resample,
    reshape,
    ssm,
    wrappers,
)
from .base import LOWERINGS, Lowering, lowering

__all__ = ["LOWERINGS", "Lowering", "lowering"]
