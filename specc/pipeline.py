"""check = load → expand → validate → graph → lint.  Later verbs build on a checked Spec.

Nothing here imports torch: ``specc check`` must stay fast enough for every save.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .diagnostics import Diagnostic, Location, SpecError
from .graph.build import GraphBuilder, fix_batch_second_macs, inside_block_hint, mark_unused
from .graph.ir import Graph
from .graph.names import reserve_target_names
from .layers import ALIASES, REGISTRY
from .load.expand import expand, parse_overrides
from .load.yaml_loader import PosDict, PosList, decode_spec, load_yaml, read_spec
from .shapes.dims import sym
from .shapes.tensor import TensorType
from .targets.torch import export_limits
from .targets.torch import support as torch_support
from .validate.document import Document, InputSpec
from .validate.errors import pydantic_diagnostics
from .validate.naming import suggest_name

# Specs are checked for the PyTorch target: its exporter's limits are U002 errors at the layer,
# and the names its generated files define (support classes) are not free for layers and models.
reserve_target_names(torch_support.defined_names)

@dataclass
class Spec:
    """A loaded, checked spec. ``ok`` is False when any error was found."""

    path: str
    text: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    document: Document | None = None
    graph: Graph | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    raw: PosDict | None = None

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def name(self) -> str:
        if self.document and self.document.name:
            return self.document.name
        stem = re.sub(r"[^0-9A-Za-z]+", " ", Path(self.path).stem).title().replace(" ", "")
        return stem if stem[:1].isalpha() else f"Model{stem}"

    @property
    def sha256(self) -> str:
        import hashlib  # only compile/export need it; keep it off `check`'s start-up

        return hashlib.sha256(self.text.encode()).hexdigest()

    def check(self) -> dict[str, Any]:
        """The machine-readable report that `specc check --format json` prints."""
        from .report.summary import check_report

        return check_report(self)

    def summary(self) -> Any:
        from .report.summary import Summary

        return Summary.of(self)

    def require_ok(self) -> Spec:
        if not self.ok:
            raise SpecInvalid(self)
        return self


class SpecInvalid(Exception):
    """Raised by APIs that need a valid spec (build, export); carries the diagnostics."""

    def __init__(self, spec: Spec):
        from .diagnostics import render_text

        self.spec = spec
        super().__init__("\n".join(render_text(d) for d in spec.errors))


def load(path: str | Path, overrides: list[str] | dict[str, Any] | None = None, ignore: Iterable[str] = ()) -> Spec:
    """Read and check a spec file. Never raises for problems in the spec: see ``.diagnostics``."""
    display = str(path)
    try:
        text = read_spec(path, display)
    except (OSError, SpecError) as exc:
        spec = Spec(display, "")
        spec.diagnostics.append(exc.diagnostic() if isinstance(exc, SpecError) else Diagnostic(
            "Y006", f"cannot read the spec: {exc.strerror or exc}", Location(display, 1, 1), "check the path"))
        return spec
    return loads(text, display, overrides, ignore)


def loads(text: str | bytes, file: str = "<string>", overrides: list[str] | dict[str, Any] | None = None,
          ignore: Iterable[str] = ()) -> Spec:
    """Check spec text (bytes are read as a file's are: UTF-8, located Y006 if not); ``ignore``
    silences warning codes (never errors).  A wrong type of argument is a TypeError here, not
    a crash deep inside the parser."""
    file = _text_argument("file", file)
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            text = decode_spec(bytes(text), file)
        except SpecError as err:
            spec = Spec(file, "")
            spec.diagnostics.append(err.diagnostic())
            return spec
    text = _text_argument("text", text)
    if overrides is not None and not isinstance(overrides, (list, tuple, dict)):
        raise TypeError(f"specc.loads: overrides is a list of 'name=value' strings or a dict, "
                        f"got {type(overrides).__name__}")
    spec = Spec(file, text)
    # Checking allocates many small objects and frees almost none; the cyclic collector's
    # repeated passes over them made a 10,000-layer spec cost twice its linear share.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _run(spec, overrides, ignore)
    except SpecError as err:
        spec.diagnostics.append(err.diagnostic(Location(file, 1, 1)))
    finally:
        if collecting:
            gc.enable()
    spec.diagnostics = _once(sorted(spec.diagnostics, key=Diagnostic.sort_key))
    return spec


def _text_argument(name: str, value: object) -> str:
    if isinstance(value, os.PathLike) and name == "file":
        value = os.fspath(value)
    if not isinstance(value, str):
        hint = "; for a file on disk use specc.load(path)" if name == "text" else ""
        raise TypeError(f"specc.loads: {name} must be str, got {type(value).__name__}{hint}")
    return value


def _once(diags: list[Diagnostic]) -> list[Diagnostic]:
    """A mistake inside a block used twice is one mistake: one error per line, code and text (the
    text without the instance's path, which is all that differs), one warning per line and code."""
    seen: set[tuple[Any, ...]] = set()
    out: list[Diagnostic] = []
    for d in diags:
        key: tuple[Any, ...] = (d.code, d.loc)
        if d.severity == "error":
            key += (d.message.replace(d.layer, "") if d.layer else d.message, d.hint)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _run(spec: Spec, overrides: list[str] | dict[str, Any] | None, ignore: Iterable[str] = ()) -> None:
    raw = load_yaml(spec.text, spec.path)
    spec.raw = raw
    ex = expand(raw, parse_overrides(overrides), set(REGISTRY) | set(ALIASES), spec.path)
    spec.diagnostics.extend(ex.diagnostics)
    spec.vars = ex.vars
    doc = ex.doc
    if "specc" in doc and doc["specc"] != 1:
        raise SpecError("V005", f"this spec is for specc language version {doc['specc']!r}; this specc reads 1",
                        "write specc: 1", loc=doc.value_loc("specc"))
    try:
        spec.document = Document.model_validate(
            {k: v for k, v in doc.items() if k not in ex.broken_sections})
    except ValidationError as exc:
        for d in pydantic_diagnostics(exc, doc, Document):
            if not (d.code == "V002" and any(f"'{s}'" in d.message for s in ex.broken_sections)):
                spec.diagnostics.append(d)
    _check_python_names(doc, spec)
    inputs = _inputs(doc, spec)
    layers = doc.get("layers")
    if inputs is None or not isinstance(layers, PosList) or not layers:
        return
    # a pinned exporter's own limits too: `auto` falls back to the other exporter, a pinned one cannot
    exporter = spec.document.export.exporter if spec.document is not None else "auto"
    builder = GraphBuilder(ex.broken,
                           limits=lambda kind, args, ins: export_limits.onnx_problem(kind, args, exporter, ins))
    graph = builder.build(spec.name, layers, inputs)  # type: ignore[arg-type]  (None: a broken input)
    graph.inputs = {k: v for k, v in graph.inputs.items() if v is not None}
    fix_batch_second_macs(graph)
    spec.diagnostics.extend(builder.diags)
    _outputs(graph, doc, spec, builder.rejected_top)
    spec.graph = graph
    if graph.ok and spec.ok:
        raw_inputs = doc.get("inputs")
        locs = {str(k): raw_inputs.key_loc(k) for k in raw_inputs} if isinstance(raw_inputs, PosDict) else {}
        spec.diagnostics.extend(mark_unused(graph, {k: v for k, v in locs.items() if v is not None}))
        from .lint import run_rules
        from .validate.training import training_diagnostics

        spec.diagnostics.extend(run_rules(spec))
        from .lint.training import check_training

        spec.diagnostics.extend(check_training(spec))
        spec.diagnostics.extend(training_diagnostics(spec))
    _silence(spec, graph, ignore)


def _silence(spec: Spec, graph: Graph, ignore: Iterable[str]) -> None:
    """Drop the warnings a spec (lint: {ignore}), a layer (ignore:) or the caller silenced.
    Errors are never dropped."""
    everywhere = {c.upper() for c in ignore}
    if spec.document is not None and spec.document.lint is not None:
        everywhere |= set(spec.document.lint.ignore)
    per_layer: dict[str, frozenset[str]] = {}

    def walk(g: Graph, inherited: frozenset[str]) -> None:
        for n in g.nodes:
            codes = inherited | n.ignore
            per_layer[n.path] = codes
            if n.sub is not None:
                walk(n.sub, codes)

    walk(graph, frozenset())
    spec.diagnostics = [d for d in spec.diagnostics if d.severity == "error" or not (
        d.code in everywhere or d.code in per_layer.get(d.layer or "", frozenset()))]


def _check_python_names(doc: PosDict, spec: Spec) -> None:
    """The model name becomes a class name and block args constructor parameters in the
    generated module: check them here, so `check` and `compile` agree."""
    from .graph.names import name_problem

    def class_problem(name: object) -> str | None:
        # A class must not shadow builtins, nor be rebound by what the templates define (build_loss, main…).
        return name_problem(name, parameter=True, class_name=True)

    name = doc.get("name")
    problem = class_problem(name) if isinstance(name, str) else None
    if problem is not None:
        spec.diagnostics.append(Diagnostic("V006", f"model {problem}, and it becomes a Python class name",
                                           doc.value_loc("name"), "rename the model, e.g. name: "
                                           f"{suggest_name(name, 'model', class_problem)}"))
    blocks = doc.get("blocks")
    if not isinstance(blocks, PosDict):
        return
    for block, body in blocks.items():
        problem = class_problem(block) if isinstance(block, str) else f"name {block!r} is not text"
        if problem is not None:
            spec.diagnostics.append(Diagnostic(
                "V006", f"block {problem}, and it becomes a Python class name", blocks.key_loc(block),
                f"rename the block, e.g. {suggest_name(block, 'block', class_problem).capitalize()}"))
        args = body.get("args") if isinstance(body, PosDict) else None
        if not isinstance(args, PosDict):
            continue
        for arg in args:
            problem = name_problem(arg, parameter=True)
            if problem:
                spec.diagnostics.append(Diagnostic(
                    "V006", f"argument of block '{block}': {problem}", args.key_loc(arg),
                    "block arguments become constructor parameters in the generated code; use a plain name "
                    "such as width or out_channels"))


def _inputs(doc: PosDict, spec: Spec) -> dict[str, TensorType | None] | None:
    """Input types, parsed even when other sections are broken so shapes still get checked.

    A broken input (already reported by the document validation) is None: the layers that
    read it are skipped like the layers after any failed layer, and the others still checked.
    """
    raw = doc.get("inputs")
    if not isinstance(raw, PosDict) or not raw:
        return None
    out: dict[str, TensorType | None] = {}
    from .graph.names import name_problem

    for name, value in raw.items():
        try:
            inp = InputSpec.model_validate(value)
        except ValidationError:
            out[str(name)] = None
            continue
        problem = name_problem(name, parameter=True)  # a parameter of forward()
        if problem:  # reported, and the input still typed so that the layers get checked
            spec.diagnostics.append(Diagnostic("V006", f"input {problem}", raw.key_loc(name),
                                               "input names become argument names of forward(); rename it, "
                                               f"e.g. {suggest_name(name, 'input', name_problem)}"))
        shape = tuple(sym(d) if isinstance(d, str) else d for d in inp.shape)
        out[str(name)] = TensorType(shape, inp.dtype)
    return out


def _outputs(graph: Graph, doc: PosDict, spec: Spec, rejected: set[str] | None = None) -> None:
    raw = doc.get("outputs")
    loc = doc.value_loc("outputs")
    if raw is None:
        if graph.nodes:
            graph.outputs = [(graph.nodes[-1].name, graph.nodes[-1].name)]
        return
    pairs: list[tuple[str, str]]
    if isinstance(raw, str):
        pairs = [(raw, raw)]
    elif isinstance(raw, list):
        pairs = [(str(n), str(n)) for n in raw]
    elif isinstance(raw, dict):
        # A value that is not a name was reported by the document validation.
        pairs = [(str(k), v) for k, v in raw.items() if isinstance(v, str)]
    else:
        return
    if not raw:  # a model that returns nothing cannot be written, run or exported
        last = graph.nodes[-1].name if graph.nodes else "a layer name"
        spec.diagnostics.append(Diagnostic("V003", "outputs: lists no layer", loc,
                                           f"list what the model returns, e.g. outputs: [{last}], or leave "
                                           "outputs: out to return the last layer"))
        return
    from .graph.names import name_problem

    seen: set[str] = set()
    for i, (out_name, src) in enumerate(pairs):
        at = loc
        if isinstance(raw, PosList):
            at = raw.item_loc(i)
        elif isinstance(raw, PosDict):
            at = raw.value_loc(out_name)
        if src in (rejected or set()):
            continue  # the layer's name was already reported as unusable
        if graph.node(src) is None and src not in graph.inputs:
            import difflib

            known = [n.name for n in graph.nodes]
            guess = difflib.get_close_matches(src, known, n=1)
            spec.diagnostics.append(Diagnostic(
                "G001", f"outputs: '{src}' is not a layer of the model", at,
                inside_block_hint(graph, src) or (f"did you mean '{guess[0]}'?" if guess else
                f"list one of the top-level layers ({', '.join(known[-4:])}), or give a layer name: {src}")))
            continue
        problem = name_problem(out_name)
        if problem:
            if isinstance(raw, PosDict):
                at = raw.key_loc(out_name)
            spec.diagnostics.append(Diagnostic("V006", f"output {problem}", at,
                                               "output names become ONNX output names; rename it, e.g. "
                                               f"{suggest_name(out_name, 'output', name_problem)}"))
            continue
        # Output names become ONNX value names, which must be unique across inputs and outputs:
        # a clash passes here and in PyTorch but breaks the exported model.
        if out_name in seen or out_name in graph.inputs:
            if isinstance(raw, PosDict):
                at = raw.key_loc(out_name)
            where = "an input" if out_name in graph.inputs else "an earlier output"
            spec.diagnostics.append(Diagnostic(
                "V007", f"the output name '{out_name}' is already used by {where}", at,
                f"give the output its own name: outputs: {{{out_name}_out: {src}}}"
                if out_name in graph.inputs else f"list '{src}' once under outputs:"))
            continue
        seen.add(out_name)
        graph.outputs.append((out_name, src))
