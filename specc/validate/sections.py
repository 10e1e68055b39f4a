"""The document, validated section by section into typed declarations with locations.

A broken section is reported and left out; every other section is still typed, so one
mistake in ``optimizer:`` hides neither a mistake in ``inputs:`` nor the checks that read
the good sections.  The graph stage gets the inputs, the layers (validate/items.py) and the
outputs as declarations, never as YAML.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import ValidationError, create_model

from ..diagnostics import Diagnostic, Location, SpecError
from ..load.expand import Expanded
from ..load.yaml_loader import PosDict, PosList
from ..shapes.dims import sym
from ..shapes.tensor import TensorType
from .document import Document, InputSpec
from .errors import pydantic_diagnostics
from .items import Layers, model_layers
from .naming import class_name_problem, name_problem, suggest_name

# The declarations are plain slotted classes: `check` runs once per process, and a dataclass
# costs ~0.4 ms to define, a measurable share of checking a spec from the command line.

class InputDecl:
    __slots__ = ("loc", "name", "type")

    def __init__(self, name: str, type: TensorType | None, loc: Location | None) -> None:
        self.name = name
        self.type = type  # None: the declaration is broken (reported); layers reading it are skipped
        self.loc = loc  # the name's key


class OutputDecl:
    __slots__ = ("key_loc", "loc", "name", "source")

    def __init__(self, name: str, source: str, loc: Location | None, key_loc: Location | None) -> None:
        self.name = name  # what the model's result is called (an ONNX output name)
        self.source = source  # the layer (or input) it returns
        self.loc = loc  # where the source is written
        self.key_loc = key_loc  # where the name is written: its key in the mapping form, else ``loc``


class OutputsDecl:
    __slots__ = ("empty", "items", "loc", "written")

    def __init__(self, written: bool, items: list[OutputDecl] | None = None, loc: Location | None = None,
                 empty: bool = False) -> None:
        self.written = written  # False: the model returns its last layer
        self.items = items or []
        self.loc = loc
        self.empty = empty  # outputs: [] or {} (a model that returns nothing)


class Declarations:
    """What validation hands the graph stage: the typed document, the inputs, the layers and the
    outputs as declarations, and the problems found.  ``inputs`` or ``layers`` is None when there
    is nothing to build a graph from (reported)."""

    __slots__ = ("diagnostics", "document", "inputs", "layers", "outputs")

    def __init__(self, document: Document | None, inputs: list[InputDecl] | None, layers: Layers | None,
                 outputs: OutputsDecl, diagnostics: list[Diagnostic]) -> None:
        self.document = document
        self.inputs = inputs
        self.layers = layers
        self.outputs = outputs
        self.diagnostics = diagnostics


def validate_sections(ex: Expanded) -> Declarations:
    """The expanded document, section by section; raises V005 for a spec of another language version."""
    doc = ex.doc
    check_version(doc)
    document, diags = validate_document(doc, ex.broken_sections)
    diags += python_name_diagnostics(doc)
    inputs, problems = input_decls(doc)
    return Declarations(document, inputs, model_layers(doc, ex.broken), outputs_decl(doc), diags + problems)


@functools.cache
def _partial_document() -> type[Document]:
    # Sections left out because they are broken must not read as missing: the partial
    # document takes the required ones as optional.
    return create_model("PartialDocument", __base__=Document,  # type: ignore[call-overload, no-any-return]
                        inputs=(dict[str, InputSpec] | None, None), layers=(list[Any] | None, None))


def check_version(doc: PosDict) -> None:
    if "specc" in doc and doc["specc"] != 1:
        raise SpecError("V005", f"this spec is for specc language version {doc['specc']!r}; this specc reads 1",
                        "write specc: 1", loc=doc.value_loc("specc"))


def validate_document(doc: PosDict, broken_sections: set[str]) -> tuple[Document | None, list[Diagnostic]]:
    """The typed document and the problems of its sections.  With a broken section the document
    holds every other section typed and the broken one at its default (None for most)."""
    given = {k: v for k, v in doc.items() if k not in broken_sections}
    try:
        return Document.model_validate(given), []
    except ValidationError as exc:
        diags = [d for d in pydantic_diagnostics(exc, doc, Document)
                 if not (d.code == "V002" and any(f"'{s}'" in d.message for s in broken_sections))]
        bad = {e["loc"][0] for e in exc.errors(include_url=False) if e["loc"]}
    try:
        partial = _partial_document().model_validate({k: v for k, v in given.items() if k not in bad})
    except ValidationError:  # only when a section's problem was reported without its name
        partial = None
    return partial, diags


def python_name_diagnostics(doc: PosDict) -> list[Diagnostic]:
    """The model name becomes a class name and block args constructor parameters in the
    generated module: check them here, so `check` and `compile` agree."""
    out: list[Diagnostic] = []
    name = doc.get("name")
    problem = class_name_problem(name) if isinstance(name, str) else None
    if problem is not None:
        out.append(Diagnostic("V006", f"model {problem}, and it becomes a Python class name", doc.value_loc("name"),
                              f"rename the model, e.g. name: {suggest_name(name, 'model', class_name_problem)}"))
    blocks = doc.get("blocks")
    if not isinstance(blocks, PosDict):
        return out
    for block, body in blocks.items():
        problem = class_name_problem(block) if isinstance(block, str) else f"name {block!r} is not text"
        if problem is not None:
            out.append(Diagnostic(
                "V006", f"block {problem}, and it becomes a Python class name", blocks.key_loc(block),
                f"rename the block, e.g. {suggest_name(block, 'block', class_name_problem).capitalize()}"))
        args = body.get("args") if isinstance(body, PosDict) else None
        if not isinstance(args, PosDict):
            continue
        for arg in args:
            problem = name_problem(arg, parameter=True)
            if problem:
                out.append(Diagnostic(
                    "V006", f"argument of block '{block}': {problem}", args.key_loc(arg),
                    "block arguments become constructor parameters in the generated code; use a plain name "
                    "such as width or out_channels"))
    return out


def input_decls(doc: PosDict) -> tuple[list[InputDecl] | None, list[Diagnostic]]:
    """Input types, parsed even when other sections are broken so shapes still get checked.

    A broken input (already reported by the document validation) has no type: the layers that
    read it are skipped like the layers after any failed layer, and the others still checked.
    """
    raw = doc.get("inputs")
    if not isinstance(raw, PosDict) or not raw:
        return None, []
    out: list[InputDecl] = []
    diags: list[Diagnostic] = []
    for name, value in raw.items():
        try:
            inp = InputSpec.model_validate(value)
        except ValidationError:
            out.append(InputDecl(str(name), None, raw.key_loc(name)))
            continue
        problem = name_problem(name, parameter=True)  # a parameter of forward()
        if problem:  # reported, and the input still typed so that the layers get checked
            diags.append(Diagnostic("V006", f"input {problem}", raw.key_loc(name),
                                    "input names become argument names of forward(); rename it, "
                                    f"e.g. {suggest_name(name, 'input', name_problem)}"))
        shape = tuple(sym(d) if isinstance(d, str) else d for d in inp.shape)
        out.append(InputDecl(str(name), TensorType(shape, inp.dtype), raw.key_loc(name)))
    return out, diags


def outputs_decl(doc: PosDict) -> OutputsDecl:
    """What ``outputs:`` names, in any of its three forms, each name with where it is written.
    A value that is not a name was reported by the document validation and is left out."""
    raw = doc.get("outputs")
    loc = doc.value_loc("outputs")
    if raw is None:
        return OutputsDecl(written=False, loc=loc)
    pairs: list[tuple[str, str]]
    if isinstance(raw, str):
        pairs = [(raw, raw)]
    elif isinstance(raw, list):
        pairs = [(str(n), str(n)) for n in raw]
    elif isinstance(raw, dict):
        pairs = [(str(k), v) for k, v in raw.items() if isinstance(v, str)]
    else:
        return OutputsDecl(written=True, loc=loc)
    items = []
    for i, (name, source) in enumerate(pairs):
        at = loc
        if isinstance(raw, PosList):
            at = raw.item_loc(i)
        elif isinstance(raw, PosDict):
            at = raw.value_loc(name)
        key = raw.key_loc(name) if isinstance(raw, PosDict) else at
        items.append(OutputDecl(name, source, at, key))
    return OutputsDecl(written=True, items=items, loc=loc, empty=not raw)
