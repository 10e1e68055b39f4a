"""The one door between the emitter and the per-kind PyTorch lowering.

The emitter asks these four questions of a layer and nothing else, so where a kind's PyTorch
text lives can change without touching the emitter.  The answers come from the lowering
registered under the kind's type name (``specc/targets/torch/kinds/``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...layers.base import LayerKind
from .kinds import LOWERINGS, Lowering


def lowering_of(kind: LayerKind) -> Lowering:
    """The PyTorch lowering of ``kind`` (every registered kind has one: tests/test_targets.py)."""
    try:
        return LOWERINGS[kind.type_name]
    except KeyError:
        raise LookupError(f"layer kind {kind.type_name} has no PyTorch lowering in specc/targets/torch/kinds/") \
            from None


def has_module(kind: LayerKind) -> bool:
    """Whether the layer is an attribute of the module (``self.conv1 = nn.Conv2d(...)``) rather
    than an operation written inline in ``forward``."""
    return lowering_of(kind).torch_class is not None


def init_expr(kind: LayerKind, args: dict[str, Any], lit: Callable[[Any], str] = repr) -> str | None:
    """The constructor expression for ``__init__``, or None for an inline operation."""
    return lowering_of(kind).init(args, lit)


def forward_expr(kind: LayerKind, module: str, inputs: list[str], args: dict[str, Any]) -> str:
    """The expression computing the layer's output in ``forward`` (``module`` is ``self.<name>``,
    empty for an inline operation)."""
    return lowering_of(kind).forward(module, inputs, args)


def support_texts(kind: LayerKind, args: dict[str, Any]) -> list[str]:
    """Source of the helper classes and functions the generated module needs for this layer."""
    return lowering_of(kind).support_texts(args)
