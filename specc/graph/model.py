"""The graph stage in one call: the model's layers built and shaped, what it returns, and which
of the warnings about it the spec silenced."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..diagnostics import Diagnostic
from ..validate.items import Layers
from ..validate.naming import name_problem, suggest_name
from ..validate.sections import InputDecl, OutputsDecl
from .build import GraphBuilder, fix_batch_second_macs, graph_batch_symbol, inside_block_hint, resolve_port
from .ir import Graph, producer

if TYPE_CHECKING:
    from ..spec import Spec


def build_model(builder: GraphBuilder, name: str, layers: Layers, inputs: list[InputDecl],
                outputs: OutputsDecl) -> tuple[Graph, list[Diagnostic]]:
    """The shaped graph and the problems found building it.  A broken input (reported by
    validation) skips the layers that read it, and is no input of the graph."""
    graph = builder.build(name, layers, {i.name: i.type for i in inputs})  # type: ignore[arg-type]  (None: broken)
    if None in graph.inputs.values():  # the batch is read from the inputs the graph has
        graph.inputs = {k: v for k, v in graph.inputs.items() if v is not None}
        graph.batch = graph_batch_symbol(graph)
    fix_batch_second_macs(graph)
    return graph, [*builder.diags, *resolve_outputs(graph, outputs, builder.rejected_top)]


def resolve_outputs(graph: Graph, decl: OutputsDecl, rejected: set[str] | None = None) -> list[Diagnostic]:
    """Fill ``graph.outputs`` from ``outputs:`` (the last layer when it is not written)."""
    graph.outputs_written = decl.written
    if not decl.written:
        last = graph.nodes[-1] if graph.nodes else None
        if last is not None and last.result is not None and last.result.outs:  # a Split: each part
            graph.outputs = [(p.replace(".", "_"), p) for p in
                             (f"{last.name}.{i}" for i in range(len(last.result.outs)))]
        elif last is not None:
            graph.outputs = [(last.name, last.name)]
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
        port, problem = resolve_port(graph, src)
        if problem is not None:
            code, why, fix = problem
            out.append(Diagnostic(code, f"outputs: {why}", item.loc, fix.replace("read one", "list one")))
            continue
        if name == src and "." in src:  # outputs: [split.1] returns it as split_1
            name = src.replace(".", "_")
        src = port
        made_by = graph.node(producer(src))
        if src not in graph.inputs and (made_by is None or (made_by.sub is not None and src != made_by.name)):
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


def silence(spec: Spec, graph: Graph, ignore: Iterable[str] = ()) -> list[Diagnostic]:
    """The spec's diagnostics less the warnings silenced: for the whole spec by ``lint: {ignore}``
    and the caller's ``ignore`` (--ignore), for a layer and everything inside it by its ``ignore:``,
    and for one layer inside one block instance by the instance's ``ignore: [{path: code}]``."""
    codes_everywhere = {c.upper() for c in ignore}
    if spec.document is not None and spec.document.lint is not None:
        codes_everywhere |= set(spec.document.lint.ignore)
    per_layer: dict[str, frozenset[str]] = {}
    targeted: dict[str, frozenset[str]] = {}  # a layer inside a block instance -> codes its instance silences

    def walk(g: Graph, inherited: frozenset[str]) -> None:
        for n in g.nodes:
            codes = inherited | n.ignore | targeted.get(n.path, frozenset())
            for inner, silenced in n.ignore_inside.items():
                targeted[f"{n.path}.{inner}"] = targeted.get(f"{n.path}.{inner}", frozenset()) | silenced
            per_layer[n.path] = codes
            if n.sub is not None:
                walk(n.sub, codes)

    walk(graph, frozenset())
    return [d for d in spec.diagnostics if d.severity == "error" or not (
        d.code in codes_everywhere or d.code in per_layer.get(d.layer or "", frozenset()))]
