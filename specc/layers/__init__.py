"""The layer catalogue: backend-neutral op schemas, one module per family (activation, conv,
pool, …).  How a target writes each kind lives under specc/targets/.

A family is imported the first time one of its kinds is looked up (``lookup``), so checking a
spec imports only the families it uses; ``catalogue.FAMILIES`` names every kind's family.
``all_kinds()`` (and ``REGISTRY``/``ALIASES``, which read it) loads the whole catalogue.
"""

from __future__ import annotations

from typing import Any

from .base import Form, LayerKind, LayerParams, LayerResult, NoParams, all_aliases, all_kinds, lookup, register, suggest
from .check import check_layer

__all__ = ["ALIASES", "REGISTRY", "Form", "LayerKind", "LayerParams", "LayerResult", "NoParams", "all_aliases",
           "all_kinds", "check_layer", "lookup", "register", "suggest"]


def __getattr__(name: str) -> Any:
    # The whole catalogue as mappings (type name -> kind, alias -> type name), built when first
    # read: importing specc.layers must not import every family.
    if name == "REGISTRY":
        return all_kinds()
    if name == "ALIASES":
        return all_aliases()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
