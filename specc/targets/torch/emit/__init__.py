"""Emission: the spec's graph written as readable, standalone PyTorch source.

Three stages: :mod:`.plan` takes every decision and produces plain records
(:mod:`.records`), :mod:`.render` prints them through the Jinja2 templates and
:mod:`.format` formats the text (ruff when installed).  Rendering needs no torch; building
the module from that same source does (see :mod:`specc.backends.torch_build`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import EmitError
from .gate import GateError
from .plan import plan_module
from .quote import UnsafeValue
from .render import render_module

if TYPE_CHECKING:
    from ....spec import Spec

__all__ = ["EmitError", "GateError", "UnsafeValue", "compile_source"]


def compile_source(spec: Spec, train: bool = False, script_dir: Path | None = None) -> str:
    """The generated module for a checked spec (with a training entry point when ``train``, whose
    data paths lead from ``script_dir``, where the script is written; default the current folder)."""
    module = plan_module(spec.require_ok())  # SpecInvalid, with the diagnostics, when it has errors
    if not train:
        return render_module(module)
    from .train import render_training

    return render_training(spec, module, script_dir)
