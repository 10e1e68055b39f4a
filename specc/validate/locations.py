"""Where each part of the document is written, for stages that report on typed declarations.

The typed sections (``Spec.document``) hold values only; a later stage that needs to point at
``lr:`` or at the third lora target asks here by path, ``locations.value("optimizer", "lr")``,
and never reads the positioned YAML itself.
"""

from __future__ import annotations

from typing import Any

from ..diagnostics import Location
from ..load.yaml_loader import PosDict, PosList

_MISSING = object()


class Locations:
    """Positions of the spec's keys and values, looked up by a path of keys and list indices."""

    def __init__(self, root: Any = None) -> None:
        self._root = root

    def _node(self, path: tuple[Any, ...]) -> Any:
        node = self._root
        for step in path:
            found = (step in node if isinstance(node, dict) else
                     isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node))
            if not found:
                return _MISSING
            node = node[step]
        return node

    def written(self, *path: Any) -> bool:
        return self._root is not None and self._node(path) is not _MISSING

    def mapping(self, *path: Any) -> bool:
        """Whether the spec writes a mapping at ``path`` (``loss: {out: {...}}``, not a scalar)."""
        return isinstance(self._node(path), PosDict)

    def value(self, *path: Any) -> Location | None:
        """Where the value at ``path`` is written; for a key the mapping lacks, where the mapping is
        (so a missing ``type:`` points at its section)."""
        parent = self._node(path[:-1])
        if isinstance(parent, PosDict):
            return parent.value_loc(path[-1])
        if isinstance(parent, PosList) and isinstance(path[-1], int):
            return parent.item_loc(path[-1])
        return None

    def key(self, *path: Any) -> Location | None:
        """Where the last key of ``path`` is written (the mapping's start when it lacks it)."""
        parent = self._node(path[:-1])
        return parent.key_loc(path[-1]) if isinstance(parent, PosDict) else None

    def keys(self, *path: Any) -> dict[str, Location]:
        """The keys written in the mapping at ``path``, each with where it is written."""
        node = self._node(path)
        if not isinstance(node, PosDict):
            return {}
        return {str(k): loc for k in node if (loc := node.key_loc(k)) is not None}

    def nearest(self, *path: Any) -> Location | None:
        """Where the deepest key of ``path`` that the spec writes has its value."""
        best = None
        for depth in range(1, len(path) + 1):
            if not self.written(*path[:depth]):
                break
            best = self.value(*path[:depth]) or best
        return best
