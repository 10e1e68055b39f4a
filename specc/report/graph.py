"""Pictures of the network: the shaped graph as Mermaid, Graphviz DOT, SVG and an HTML page.

One view model (:class:`View`) is taken from a checked spec's graph: inputs, layers with
their output shape in the spec's own symbols and their parameter count, blocks and
``repeat`` groups with their children, outputs, and the error of each layer at fault.
Which groups are drawn open is a choice of the picture (``flatten``), not of the model.
Nothing here runs the network or imports torch: shapes are the ones ``check`` inferred.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..graph.ir import producer
from ..shapes.dims import fmt_shape

if TYPE_CHECKING:
    from ..graph.ir import Graph
    from ..spec import Spec

FORMATS = ("mermaid", "dot", "svg", "html")


@dataclass
class VNode:
    id: str  # qualified path, unique in the picture ("in:NAME" / "out:NAME" for inputs and outputs)
    name: str  # local name: what `from:` refers to
    type: str  # layer type, block name, "repeat", "Input" or "Output"
    role: str  # "input", "layer", "group" or "output"
    shape: str = "?"
    params: int | None = None
    error: str | None = None  # every error at this layer (or inside this group), with hints
    brief: str | None = None  # the first one, as the box shows it
    family: str = ""  # a layer's family (conv, norm, …); an input's dtype
    inputs: list[str] = field(default_factory=list)  # local names in the same scope
    children: list[VNode] | None = None  # a group's layers
    output: str | None = None  # the child whose value a group returns
    ports: list[str] = field(default_factory=list)  # what a group's children call its inputs

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type, "role": self.role,
                               "shape": self.shape, "params": self.params, "error": self.error,
                               "brief": self.brief, "family": self.family, "inputs": self.inputs}
        if self.children is not None:
            out["children"] = [c.to_json() for c in self.children]
            out["output"] = self.output
        return out


@dataclass
class View:
    name: str
    file: str
    inputs: list[VNode]
    nodes: list[VNode]
    outputs: list[VNode]
    total_params: int
    errors: list[str]  # every error, as "line:col message", for the page's legend

    def groups(self) -> Iterable[VNode]:
        def walk(nodes: list[VNode]) -> Iterable[VNode]:
            for n in nodes:
                if n.children is not None:
                    yield n
                    yield from walk(n.children)
        return walk(self.nodes)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "file": self.file, "total_params": self.total_params, "errors": self.errors,
                "inputs": [n.to_json() for n in self.inputs], "nodes": [n.to_json() for n in self.nodes],
                "outputs": [n.to_json() for n in self.outputs]}


def view(spec: Spec) -> View:
    """The picture's model of a spec whose graph was built (``spec.graph`` is not None)."""
    g = spec.graph
    assert g is not None, "a spec without a graph has nothing to draw"
    faults: dict[str, list[str]] = {}
    short: dict[str, str] = {}
    listed: list[str] = []
    for d in spec.errors:
        text = f"{d.code} {d.message}" + (f" (hint: {d.hint})" if d.hint else "")
        if d.layer:
            faults.setdefault(d.layer, []).append(text)
            # The box already says which layer it is: "Add 'stage_2.add_1': cannot …" → "cannot …".
            short.setdefault(d.layer, f"{d.code}: " + re.sub(r"^\S+ '[^']*': ", "", d.message))
        where = f"{d.loc.line}:{d.loc.col} " if d.loc else ""
        listed.append(f"{where}{d.code} {d.message}" + (f" — {d.hint}" if d.hint else ""))

    def fault(path: str, group: bool) -> tuple[str | None, str | None]:
        inner = [p for p in faults if group and p.startswith(path + ".")]
        found = faults.get(path, []) + [m for p in inner for m in faults[p]]
        first = short.get(path) or next((f"inside {p[len(path) + 1:]}: {short[p]}" for p in inner), None)
        return ("\n".join(found) if found else None), first

    taken: set[str] = set()

    def unique(path: str) -> str:
        # A spec with a duplicate name (V007) still draws: the second box gets an id of its own.
        k, at = 2, path
        while at in taken:
            at, k = f"{path}~{k}", k + 1
        taken.add(at)
        return at

    def nodes(graph: Graph) -> list[VNode]:
        out = []
        for n in graph.nodes:
            error, brief = fault(n.path, n.sub is not None)
            v = VNode(unique(n.path), n.name, n.type, "group" if n.sub is not None else "layer",
                      " | ".join(fmt_shape(t.shape) for t in n.result.outs) if n.result is not None and n.result.outs
                      else fmt_shape(n.out.shape) if n.out is not None else "?",
                      n.result.params if n.result is not None else None, error, brief, inputs=list(n.inputs))
            if n.sub is not None:
                v.children = nodes(n.sub)
                v.output = n.sub.outputs[0][1] if n.sub.outputs else None
                v.ports = list(n.sub.inputs)
            elif n.kind is not None:  # colour by the module that defines the kind: conv, norm, pool, …
                v.family = type(n.kind).__module__.rsplit(".", 1)[-1]
            out.append(v)
        return out

    ins = [VNode(f"in:{k}", k, "Input", "input", fmt_shape(t.shape), family=t.dtype) for k, t in g.inputs.items()]
    outs = []
    for name, src in g.outputs:
        t = g.value(src)
        outs.append(VNode(f"out:{name}", name, "Output", "output", fmt_shape(t.shape) if t is not None else "?",
                          inputs=[src]))
    return View(spec.name, spec.path, ins, nodes(g), outs, g.totals()[0], listed)


# -- which groups are open ---------------------------------------------------------------------------

@dataclass
class Flat:
    """The picture for one choice of open groups: boxes, arrows and the frames of open groups."""

    nodes: list[VNode]
    edges: list[tuple[str, str]]
    clusters: list[tuple[VNode, str | None]]  # (open group, the open group around it)
    parent: dict[str, str | None]  # node or cluster id → id of the open group around it


def opener(expand: str | None) -> Callable[[str], bool]:
    """``None``: every group closed; ``"*"``: every group open; else comma-separated paths, each
    opening that group and the groups around it (``layer2.0`` opens ``layer2`` too)."""
    if expand is None:
        return lambda _: False
    if expand.strip() == "*":
        return lambda _: True
    wanted = [p.strip() for p in expand.split(",") if p.strip()]
    return lambda path: any(w == path or w.startswith(path + ".") for w in wanted)


class UnknownGroup(ValueError):
    """``--expand`` named something that is not a block instance or repeat of the spec."""


def check_expand(v: View, expand: str | None) -> None:
    if expand is None or expand.strip() == "*":
        return
    import difflib

    ids = [g.id for g in v.groups()]
    for wanted in (p.strip() for p in expand.split(",") if p.strip()):
        if wanted not in ids:
            close = difflib.get_close_matches(wanted, ids, n=1)
            raise UnknownGroup(f"--expand {wanted}: the spec has no block or repeat of that name; " + (
                f"did you mean {close[0]}?" if close else
                f"its blocks and repeats are {', '.join(ids[:12])}{', …' if len(ids) > 12 else ''}" if ids else
                "it has no blocks or repeats to open"))


def flatten(v: View, is_open: Callable[[str], bool]) -> Flat:
    flat = Flat([], [], [], {})
    env: dict[str, str | None] = {}
    for n in v.inputs:
        flat.nodes.append(n)
        flat.parent[n.id] = None
        env[n.name] = n.id

    def scope(nodes: list[VNode], env: dict[str, str | None], around: str | None) -> None:
        for n in nodes:
            sources = [s for s in (env.get(producer(i)) for i in n.inputs) if s is not None]
            if n.children is not None and is_open(n.id):
                flat.clusters.append((n, around))
                flat.parent[n.id] = around
                inner = dict(zip(n.ports, (env.get(producer(i)) for i in n.inputs)))
                scope(n.children, inner, n.id)
                env[n.name] = inner.get(producer(n.output)) if n.output else None
                continue
            flat.nodes.append(n)
            flat.parent[n.id] = around
            flat.edges.extend((s, n.id) for s in sources)
            env[n.name] = n.id

    scope(v.nodes, env, None)
    for n in v.outputs:
        src = env.get(producer(n.inputs[0])) if n.inputs else None
        flat.nodes.append(n)
        flat.parent[n.id] = None
        if src is not None:
            flat.edges.append((src, n.id))
    return flat


def label_lines(n: VNode) -> list[str]:
    """What a box says: name and type, the output shape, the parameter count."""
    head = f"{n.role} {n.name}" if n.role in ("input", "output") else f"{n.name} · {n.type}"
    lines = [head, n.shape if n.role != "input" else f"{n.family} {n.shape}"]
    if n.role in ("layer", "group"):
        lines.append("? params" if n.params is None else f"{n.params:,} params")
    return lines


def group_title(n: VNode) -> str:
    return f"{n.name} · {n.type}"


# -- text formats --------------------------------------------------------------------------------------

def _one_line(s: str) -> str:
    return " ".join(s.splitlines()) if s else s


def to_mermaid(v: View, is_open: Callable[[str], bool]) -> str:
    flat = flatten(v, is_open)
    ids = {n.id: f"n{i}" for i, n in enumerate(flat.nodes)}
    ids.update({c.id: f"g{i}" for i, (c, _) in enumerate(flat.clusters)})

    def text(s: str) -> str:
        # Mermaid reads entity codes inside quoted labels; a bare quote would end the label, and a line
        # break the statement.
        return (_one_line(s).replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
                .replace(">", "#gt;"))

    def box(n: VNode) -> str:
        label = "<br/>".join(text(s) for s in label_lines(n))
        shape = ('(["', '"])') if n.role in ("input", "output") else ('["', '"]')
        return f"{ids[n.id]}{shape[0]}{label}{shape[1]}"

    out = [f"%% {v.name} ({_one_line(v.file)}), drawn by specc graph", "flowchart TB"]
    out += _nested(flat, box, lambda c: [f'subgraph {ids[c.id]}["{text(group_title(c))}"]'], "end")
    out += [f"  {ids[a]} --> {ids[b]}" for a, b in flat.edges]
    out.append("  classDef error fill:#fde8e8,stroke:#c81e1e,color:#771d1d")
    out.append("  classDef io fill:#eef2ff,stroke:#4f46e5")
    faulty = [ids[n.id] for n in flat.nodes if n.error] + [ids[c.id] for c, _ in flat.clusters if c.error]
    if faulty:
        out.append(f"  class {','.join(faulty)} error")
    io = [ids[n.id] for n in flat.nodes if n.role in ("input", "output")]
    if io:
        out.append(f"  class {','.join(io)} io")
    return "\n".join(out) + "\n"


def _nested(flat: Flat, box: Callable[[VNode], str], opening: Callable[[VNode], list[str]], closing: str) -> list[str]:
    """The boxes of a text format, each open group around its own (``opening`` … ``closing``)."""
    out: list[str] = []

    def emit(around: str | None, indent: str) -> None:
        out.extend(indent + box(n) for n in flat.nodes if flat.parent[n.id] == around)
        for c, parent in flat.clusters:
            if parent == around:
                out.extend(indent + line for line in opening(c))
                emit(c.id, indent + "  ")
                out.append(indent + closing)

    emit(None, "  ")
    return out


def _dot_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # DOT's quoted strings escape " and \ as JSON does


def to_dot(v: View, is_open: Callable[[str], bool]) -> str:
    flat = flatten(v, is_open)
    out = [f"// {v.name} ({_one_line(v.file)}), drawn by specc graph", f"digraph {_dot_str(v.name)} {{",
           "  rankdir=TB;", '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
           '  edge [color="#64748b"];']

    def node(n: VNode) -> str:
        attrs = {"label": "\n".join(label_lines(n))}
        if n.role in ("input", "output"):
            attrs["fillcolor"] = "#eef2ff"
        elif n.role == "group":
            attrs["fillcolor"] = "#f1f5f9"
        if n.error:
            attrs.update(fillcolor="#fde8e8", color="#c81e1e", tooltip=n.error)
        return f"{_dot_str(n.id)} [{', '.join(f'{k}={_dot_str(x)}' for k, x in attrs.items())}];"

    def cluster(c: VNode) -> list[str]:
        colour = ', color="#c81e1e"' if c.error else ""
        return [f"subgraph {_dot_str('cluster_' + c.id)} {{",
                f'  graph [label={_dot_str(group_title(c))}, style="rounded"{colour}];']

    out += _nested(flat, node, cluster, "}")
    out += [f"  {_dot_str(a)} -> {_dot_str(b)};" for a, b in flat.edges]
    out.append("}")
    return "\n".join(out) + "\n"


def render(spec: Spec, fmt: str, expand: str | None = None) -> str:
    """The picture of a spec in one of :data:`FORMATS`; ``expand`` as in :func:`opener`."""
    v = view(spec)
    check_expand(v, expand)
    is_open = opener(expand)
    if fmt == "mermaid":
        return to_mermaid(v, is_open)
    if fmt == "dot":
        return to_dot(v, is_open)
    from .svg import to_html, to_svg

    if fmt == "svg":
        return to_svg(v, is_open)
    if fmt == "html":
        return to_html(v, is_open)
    raise ValueError(f"unknown graph format {fmt!r}; one of {', '.join(FORMATS)}")
