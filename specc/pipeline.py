"""check = load → expand → validate → graph → lint → data.  Later verbs build on a checked Spec.

Nothing here imports torch: ``specc check`` must stay fast enough for every save.  The data step
reads the files a spec's train: section names (relative to the spec's folder) as `specc train`
would, when the spec is a file on disk; ``data=False`` skips it.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic, Location, SpecError, one_per_mistake
from .graph.build import GraphBuilder, batchless_inputs, mark_unused
from .graph.init import assign_init
from .graph.model import build_model, silence
from .layers.catalogue import FAMILY_OF
from .load.expand import expand, parse_overrides
from .load.yaml_loader import decode_spec, load_yaml, read_spec
from .spec import Spec, SpecInvalid
from .targets import verdict
from .targets.torch import support as torch_support
from .validate.locations import Locations
from .validate.naming import reserve_target_names
from .validate.sections import validate_sections

__all__ = ["Spec", "SpecInvalid", "load", "loads"]  # Spec lives in specc.spec; kept here for callers

# Specs are checked for the PyTorch target and for export: what the route `specc export` takes
# cannot write is a U002 error at the layer (specc/targets/verdict.py), and the names the
# PyTorch target's generated files define (support classes) are not free for layers and models.
reserve_target_names(torch_support.defined_names)


def load(path: str | Path, overrides: list[str] | dict[str, Any] | None = None, ignore: Iterable[str] = (), *,
         data: bool = True) -> Spec:
    """Read and check a spec file (and, ``data`` true, the data files it trains on). Never raises for
    problems in the spec: see ``.diagnostics``."""
    display = str(path)
    try:
        text = read_spec(path, display)
    except (OSError, SpecError) as exc:
        spec = Spec(display, "")
        spec.diagnostics.append(exc.diagnostic() if isinstance(exc, SpecError) else Diagnostic(
            "Y006", f"cannot read the spec: {exc.strerror or exc}", Location(display, 1, 1), "check the path"))
        return spec
    return loads(text, display, overrides, ignore, data=data)


def loads(text: str | bytes, file: str = "<string>", overrides: list[str] | dict[str, Any] | None = None,
          ignore: Iterable[str] = (), *, data: bool = True) -> Spec:
    """Check spec text (bytes are read as a file's are: UTF-8, located Y006 if not); ``ignore``
    silences warning codes (never errors); ``data``: where ``file`` is a file on disk (an editor's
    buffer of it), read the data files the spec trains on, relative to its folder.  A wrong type
    of argument is a TypeError here, not a crash deep inside the parser."""
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
        _run(spec, overrides, ignore, data)
    except SpecError as err:
        spec.diagnostics.append(err.diagnostic(Location(file, 1, 1)))
    finally:
        if collecting:
            gc.enable()
    spec.diagnostics = one_per_mistake(sorted(spec.diagnostics, key=Diagnostic.sort_key))
    return spec


def _text_argument(name: str, value: object) -> str:
    if isinstance(value, os.PathLike) and name == "file":
        value = os.fspath(value)
    if not isinstance(value, str):
        hint = "; for a file on disk use specc.load(path)" if name == "text" else ""
        raise TypeError(f"specc.loads: {name} must be str, got {type(value).__name__}{hint}")
    return value


def _run(spec: Spec, overrides: list[str] | dict[str, Any] | None, ignore: Iterable[str] = (),
         data: bool = True) -> None:
    raw = load_yaml(spec.text, spec.path)
    spec.raw = raw
    spec.locations = Locations(raw)
    ex = expand(raw, parse_overrides(overrides), set(FAMILY_OF), spec.path)
    spec.diagnostics.extend(ex.diagnostics)
    spec.vars = ex.vars
    declared = validate_sections(ex)
    spec.document = declared.document
    spec.diagnostics.extend(declared.diagnostics)
    inputs = declared.inputs
    if inputs is None or declared.layers is None:
        return
    export = spec.document.export if spec.document is not None else None
    builder = GraphBuilder(limits=verdict.route_limits(export.exporter, export.opset) if export is not None
                           else verdict.route_limits())
    graph, problems = build_model(builder, spec.name, declared.layers, inputs, declared.outputs)
    spec.diagnostics.extend(problems)
    blocks = ex.doc.get("blocks")
    spec.diagnostics.extend(assign_init(graph, ex.doc.get("init"), set(blocks) if isinstance(blocks, dict) else set()))
    spec.graph = graph
    if graph.ok and spec.ok:
        locs = {i.name: i.loc for i in inputs if i.loc is not None}
        spec.diagnostics.extend(mark_unused(graph, locs))
        spec.diagnostics.extend(batchless_inputs(graph, locs))
        from .lint import run_rules
        from .lint.training import check_training
        from .validate.export_sizes import export_size_diagnostics
        from .validate.training import training_diagnostics

        spec.diagnostics.extend(run_rules(spec))
        spec.diagnostics.extend(check_training(spec))
        spec.diagnostics.extend(training_diagnostics(spec))
        spec.diagnostics.extend(export_size_diagnostics(spec))
        train = spec.document.train if spec.document is not None else None
        if data and spec.ok and train is not None and train.data.files() and Path(spec.path).is_file():
            # the files train: names, read as specc train reads them
            from .data.probe import data_diagnostics

            spec.diagnostics.extend(data_diagnostics(spec, Path(spec.path).resolve().parent))
    spec.diagnostics = silence(spec, graph, ignore)
