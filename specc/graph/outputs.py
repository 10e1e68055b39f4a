"""What the model returns: the declared outputs resolved against the built graph."""

from __future__ import annotations

import difflib

from ..diagnostics import Diagnostic
from ..validate.naming import name_problem, suggest_name
from ..validate.sections import OutputsDecl
from .build import inside_block_hint
from .ir import Graph


def resolve_outputs(graph: Graph, decl: OutputsDecl, rejected: set[str] | None = None) -> list[Diagnostic]:
    """Fill ``graph.outputs`` from ``outputs:`` (the last layer when it is not written)."""
    if not decl.written:
        if graph.nodes:
            graph.outputs = [(graph.nodes[-1].name, graph.nodes[-1].name)]
        return []
    if decl.empty:  # a model that returns nothing cannot be written, run or exported
        last = graph.nodes[-1].name if graph.nodes else "a layer name"
        return [Diagnostic("V003", "outputs: lists no layer", decl.loc,
                           f"list what the model returns, e.g. outputs: [{last}], or leave "
                           "outputs: out to return the last layer")]
    out: list[Diagnostic] = []
    seen: set[str] = set()
    for item in decl.items:
        name, src = item.name, item.source
        if src in (rejected or set()):
            continue  # the layer's name was already reported as unusable
        if graph.node(src) is None and src not in graph.inputs:
            known = [n.name for n in graph.nodes]
            guess = difflib.get_close_matches(src, known, n=1)
            out.append(Diagnostic(
                "G001", f"outputs: '{src}' is not a layer of the model", item.loc,
                inside_block_hint(graph, src) or (f"did you mean '{guess[0]}'?" if guess else
                f"list one of the top-level layers ({', '.join(known[-4:])}), or give a layer name: {src}")))
            continue
        problem = name_problem(name)
        if problem:
            out.append(Diagnostic("V006", f"output {problem}", item.key_loc,
                                  "output names become ONNX output names; rename it, e.g. "
                                  f"{suggest_name(name, 'output', name_problem)}"))
            continue
        # Output names become ONNX value names, which must be unique across inputs and outputs:
        # a clash passes here and in PyTorch but breaks the exported model.
        if name in seen or name in graph.inputs:
            where = "an input" if name in graph.inputs else "an earlier output"
            out.append(Diagnostic(
                "V007", f"the output name '{name}' is already used by {where}", item.key_loc,
                f"give the output its own name: outputs: {{{name}_out: {src}}}"
                if name in graph.inputs else f"list '{src}' once under outputs:"))
            continue
        seen.add(name)
        graph.outputs.append((name, src))
    return out
