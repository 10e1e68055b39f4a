"""Emission: the spec's graph written as readable, standalone PyTorch source.

Rendering needs no torch; building the module from that same source does (see
:mod:`specc.backends.torch_build`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .context import EmitError, module_context
from .gate import GateError
from .render import render_module

if TYPE_CHECKING:
    from ....pipeline import Spec

__all__ = ["EmitError", "GateError", "compile_source"]


def compile_source(spec: Spec, train: bool = False) -> str:
    """The generated module for a checked spec (with a training entry point when ``train``)."""
    from ....pipeline import SpecInvalid

    if not spec.ok:
        raise SpecInvalid(spec)
    ctx = module_context(spec)
    if not train:
        return render_module(ctx)
    from .train import render_training

    return render_training(spec, ctx)
