"""Drop the warnings a spec, a layer or the caller silenced.  Errors are never dropped."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..diagnostics import Diagnostic
from ..graph.ir import Graph

if TYPE_CHECKING:
    from ..spec import Spec


def silence(spec: Spec, graph: Graph, ignore: Iterable[str] = ()) -> list[Diagnostic]:
    """The spec's diagnostics less the warnings silenced: for the whole spec by ``lint: {ignore}``
    and the caller's ``ignore`` (--ignore), for a layer and everything inside it by its ``ignore:``."""
    codes_everywhere = {c.upper() for c in ignore}
    if spec.document is not None and spec.document.lint is not None:
        codes_everywhere |= set(spec.document.lint.ignore)
    per_layer: dict[str, frozenset[str]] = {}

    def walk(g: Graph, inherited: frozenset[str]) -> None:
        for n in g.nodes:
            codes = inherited | n.ignore
            per_layer[n.path] = codes
            if n.sub is not None:
                walk(n.sub, codes)

    walk(graph, frozenset())
    return [d for d in spec.diagnostics if d.severity == "error" or not (
        d.code in codes_everywhere or d.code in per_layer.get(d.layer or "", frozenset()))]
