"""What emission raises for a spec it cannot write."""

from __future__ import annotations

from ....graph.ir import Node


class EmitError(Exception):
    """A spec that is valid but cannot be written as PyTorch (a located, user-facing problem)."""

    def __init__(self, message: str, node: Node | None = None):
        super().__init__(message)
        self.node = node
