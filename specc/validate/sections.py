"""The document, validated section by section into typed declarations with locations.

A broken section is reported and left out; every other section is still typed, so one
mistake in ``optimizer:`` hides neither a mistake in ``inputs:`` nor the checks that read
the good sections.  The graph stage gets the inputs, the layers (validate/items.py) and the
outputs as declarations, never as YAML.
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Any

from pydantic import ValidationError, create_model

from ..diagnostics import Diagnostic, Location, SpecError
from ..load.expand import Expanded
from ..load.yaml_loader import PosDict, PosList
from ..shapes.dims import sym
from ..shapes.tensor import TensorType
from .document import Document, InputSpec, loss_form
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


# The sections whose type is a union of models told apart by their ``type:``.  A spec names one
# member of each, and validating that member alone is what the union does with it; building the
# schema of the whole union (every loss, optimizer and scheduler, and the per-output form of each
# loss) cost 75 M instructions of each `specc check`, more than checking all of ResNet-18's layers.
_TAGGED = ("loss", "optimizer", "scheduler")


@functools.cache
def _untagged_document() -> type[Document]:
    # The document with the tagged sections taken as written, to validate them one by one.
    return create_model("Document", __base__=Document,  # type: ignore[call-overload, no-any-return]
                        **{name: (Any, None) for name in _TAGGED})


@functools.cache
def _members(section: str, per_output: bool = False) -> dict[Any, Any]:
    """The members of a tagged section's union by their tag: a model, or, under the loss's
    per-output tag, the mapping of outputs to per-output losses."""
    if per_output:
        mapping = next(m for m in _union(Document.model_fields["loss"].annotation)
                       if typing.get_origin(typing.get_args(m)[0]) is dict)  # Annotated[dict[...], Tag]
        union = typing.get_args(typing.get_args(mapping)[0])[1]
    else:
        union = Document.model_fields[section].annotation
    out: dict[Any, Any] = {}
    for member in _union(union):
        if typing.get_origin(member) is typing.Annotated:  # a member the loss's callable discriminator tags
            member, *meta = typing.get_args(member)
            out.update((m.tag, member) for m in meta if hasattr(m, "tag"))
        else:
            out.update((tag, member) for tag in typing.get_args(member.model_fields["type"].annotation))
    return out


def _union(ann: Any) -> list[Any]:
    """The members of a union, through the Annotated and Optional around it."""
    while True:
        while typing.get_origin(ann) is typing.Annotated:
            ann = typing.get_args(ann)[0]
        members = [m for m in typing.get_args(ann) if m is not type(None)] \
            if typing.get_origin(ann) in (typing.Union, types.UnionType) else [ann]
        if len(members) != 1:
            return members
        ann = members[0]


def _tagged(section: str, value: Any) -> tuple[bool, Any]:
    """(True, the typed value) of a tagged section, or (False, None) when it is not valid or its
    member cannot be told without the union (the union's validation then reports it)."""
    if value is None:
        return True, None
    tag = loss_form(value) if section == "loss" else value.get("type") if isinstance(value, dict) else None
    member = _members(section).get(tag) if isinstance(tag, str) else None
    if member is None:
        return False, None
    try:
        if isinstance(member, type):
            return True, member.model_validate(value)
        outputs = _members(section, per_output=True)  # the per-output form: each output's loss by its type
        typed = {}
        for name, one in value.items():
            kind = outputs.get(one.get("type")) if isinstance(name, str) and isinstance(one, dict) else None
            if kind is None:
                return False, None
            typed[name] = kind.model_validate(one)
        return True, typed
    except ValidationError:
        return False, None


def _valid_document(given: dict[str, Any]) -> Document | None:
    """The typed document when every section is valid, else None: the whole document's validation
    then finds and reports the problems, with the union's own wording for a tagged section."""
    try:
        untagged = _untagged_document().model_validate(given)
    except ValidationError:
        return None
    values = {name: getattr(untagged, name) for name in Document.model_fields}
    for section in _TAGGED:
        if section in given:
            ok, values[section] = _tagged(section, given[section])
            if not ok:
                return None
    return Document.model_construct(untagged.model_fields_set, **values)


def check_version(doc: PosDict) -> None:
    if "specc" in doc and doc["specc"] != 1:
        raise SpecError("V005", f"this spec is for specc language version {doc['specc']!r}; this specc reads 1",
                        "write specc: 1", loc=doc.value_loc("specc"))


def validate_document(doc: PosDict, broken_sections: set[str]) -> tuple[Document | None, list[Diagnostic]]:
    """The typed document and the problems of its sections.  With a broken section the document
    holds every other section typed and the broken one at its default (None for most)."""
    given = {k: v for k, v in doc.items() if k not in broken_sections}
    typed = _valid_document(given)
    if typed is not None:
        return typed, []
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
        ins = body.get("inputs") if isinstance(body, PosDict) else None
        for name in ins if isinstance(ins, list) else ():
            # each becomes a parameter of the block class's forward()
            problem = name_problem(name, parameter=True) if name != "input" else None
            if problem is None and isinstance(args, PosDict) and name in args:
                problem = f"name {name!r} is also one of its args"
            if problem:
                out.append(Diagnostic(
                    "V006", f"input of block '{block}': {problem}", body.value_loc("inputs"),
                    "block inputs become parameters of the generated forward(); use a plain name such as skip or "
                    "memory"))
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
                                    f"e.g. {suggest_name(name, 'input', lambda n: name_problem(n, parameter=True))}"))
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
