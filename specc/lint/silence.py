"""Drop the warnings a spec, a layer or the caller silenced.  Errors are never dropped."""

from __future__ import annotations

from collections.abc import Iterable

from ..diagnostics import Diagnostic
from ..graph.ir import Graph


def silence(diagnostics: list[Diagnostic], graph: Graph, everywhere: Iterable[str]) -> list[Diagnostic]:
    """``everywhere``: the codes silenced for the whole spec (lint: {ignore}, --ignore); a layer's
    ignore: holds for it and for everything inside it."""
    codes_everywhere = set(everywhere)
    per_layer: dict[str, frozenset[str]] = {}

    def walk(g: Graph, inherited: frozenset[str]) -> None:
        for n in g.nodes:
            codes = inherited | n.ignore
            per_layer[n.path] = codes
            if n.sub is not None:
                walk(n.sub, codes)

    walk(graph, frozenset())
    return [d for d in diagnostics if d.severity == "error" or not (
        d.code in codes_everywhere or d.code in per_layer.get(d.layer or "", frozenset()))]
