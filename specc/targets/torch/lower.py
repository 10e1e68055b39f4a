"""The one door between the emitter and the per-kind PyTorch lowering.

The emitter asks these four questions of a layer and nothing else, so where a kind's PyTorch
text lives can change without touching the emitter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...layers.base import LayerKind


def has_module(kind: LayerKind) -> bool:
    """Whether the layer is an attribute of the module (``self.conv1 = nn.Conv2d(...)``) rather
    than an operation written inline in ``forward``."""
    return kind.torch_class is not None


def init_expr(kind: LayerKind, args: dict[str, Any], lit: Callable[[Any], str] = repr) -> str | None:
    """The constructor expression for ``__init__``, or None for an inline operation."""
    return kind.torch_init(args, lit)


def forward_expr(kind: LayerKind, module: str, inputs: list[str], args: dict[str, Any]) -> str:
    """The expression computing the layer's output in ``forward`` (``module`` is ``self.<name>``,
    empty for an inline operation)."""
    return kind.torch_forward(module, inputs, args)


def support_texts(kind: LayerKind, args: dict[str, Any]) -> list[str]:
    """Source of the helper classes and functions the generated module needs for this layer."""
    return kind.support(args)
