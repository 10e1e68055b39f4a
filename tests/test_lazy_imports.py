"""What `specc check` imports, it imports when it needs it: layer families load on demand
(checking a spec imports the families of the layer types it writes, and what those modules
import, no other), and the catalogue that finds a type's family (specc/layers/catalogue.py)
names exactly what the families register; importing the package imports no pipeline.

Each probe runs in a fresh interpreter, where sys.modules tells the truth.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import specc.layers
from specc.layers import all_aliases, all_kinds, lookup
from specc.layers.base import LayerKind, NoParams, register
from specc.layers.catalogue import FAMILIES, FAMILY_OF

ROOT = Path(__file__).resolve().parents[1]
LAYERS = Path(specc.layers.__file__).parent

PROBE = """
import json, sys
import specc
spec = specc.load(sys.argv[1])
loaded = sorted(m.rpartition(".")[2] for m in sys.modules if m.startswith("specc.layers.") and
                m.rpartition(".")[2] in json.loads(sys.argv[2]))
print(json.dumps({"ok": spec.ok, "families": loaded}))
"""


def _written_families(node: object) -> set[str]:
    """The families of every layer type a spec's text names (blocks' layers and a
    TimeDistributed's ``layer:`` included; losses and block names are no layer types)."""
    found: set[str] = set()
    if isinstance(node, dict):
        t = node.get("type")
        if isinstance(t, str) and t in FAMILY_OF:
            found.add(FAMILY_OF[t])
        for v in node.values():
            found |= _written_families(v)
    elif isinstance(node, list):
        for v in node:
            found |= _written_families(v)
    return found


def _imports_of(family: str) -> set[str]:
    """The sibling families a family module imports (``from .recurrent import seq_axes``)."""
    tree = ast.parse((LAYERS / f"{family}.py").read_text(encoding="utf-8"))
    return {n.module for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.level == 1 and n.module in FAMILIES}


def _closure(families: set[str]) -> set[str]:
    out, todo = set(), list(families)
    while todo:
        f = todo.pop()
        if f not in out:
            out.add(f)
            todo.extend(_imports_of(f))
    return out


SPECS = ["specs/xor.yaml", "specs/resnet18.yaml", "specs/transformer_text.yaml",
         "specs/timedistributed_video.yaml", "specs/unet_small.yaml"]


@pytest.mark.parametrize("path", SPECS)
def test_check_imports_only_the_families_a_spec_uses(path: str) -> None:
    import yaml

    written = _written_families(yaml.safe_load((ROOT / path).read_text(encoding="utf-8")))
    proc = subprocess.run([sys.executable, "-c", PROBE, path, json.dumps(list(FAMILIES))], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["ok"], path
    loaded = set(result["families"])
    assert written, f"{path} names no layer type: the probe would prove nothing"
    assert written <= loaded, f"the families of {sorted(written - loaded)} were not loaded, yet {path} checked"
    extra = loaded - _closure(written)
    assert not extra, f"checking {path} imported the families {sorted(extra)}, which it does not use"
    assert loaded != set(FAMILIES), f"checking {path} imported every family"


def test_catalogue_names_each_kind_under_its_family() -> None:
    kinds, aliases = all_kinds(), all_aliases()
    assert set(FAMILY_OF) == set(kinds) | set(aliases)
    for name, family in FAMILY_OF.items():
        kind = lookup(name)
        assert kind is not None, name
        assert type(kind).__module__ == f"specc.layers.{family}", (name, family)
        assert kind is kinds[aliases.get(name, name)]
    # the module attributes every catalogue-wide caller reads are the whole catalogue
    assert kinds == specc.layers.REGISTRY
    assert aliases == specc.layers.ALIASES


def test_family_annotations_are_objects_not_text() -> None:
    # Pydantic evaluates a text annotation of each Params field when its family loads, on every
    # check that uses the family (CONTRIBUTING: "Family modules have no from __future__ ...").
    futures = [f for f in FAMILIES if any(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in
                                          ast.parse((LAYERS / f"{f}.py").read_text(encoding="utf-8")).body)]
    assert not futures, f"{futures} import annotations from __future__"


def test_unknown_type_is_none() -> None:
    assert lookup("Conv2dd") is None
    assert lookup("conv") is None


def test_register_refuses_a_kind_the_catalogue_does_not_list() -> None:
    class Unlisted(LayerKind):
        type_name = "UnlistedKind"
        Params = NoParams

    with pytest.raises(ValueError, match=r"catalogue\.py"):
        register(Unlisted)
    assert lookup("UnlistedKind") is None


def test_importing_the_package_imports_no_pipeline() -> None:
    code = ("import sys, specc; assert specc.__version__; "
            "print(sorted(m for m in ('pydantic', 'yaml', 'specc.pipeline', 'specc.layers') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    # and the lazy names still resolve, to the pipeline's own objects
    import specc.pipeline
    import specc.spec

    assert specc.load is specc.pipeline.load and specc.Spec is specc.spec.Spec


@pytest.mark.parametrize("preset", [None, "logfire"])
def test_the_command_skips_pydantic_plugins_unless_the_user_says(preset: str | None) -> None:
    # Looking for plugins reads every installed package's entry points before specc's first
    # model: the command line switches it off for its own process, keeping a user's own setting.
    # (and before Pydantic is imported, or the setting would come too late)
    # With them all off, Pydantic's loader (whose module imports importlib.metadata) is stood in for.
    code = ("import os, sys, specc.cli.dispatch as d\n"
            "d.main = lambda: print(os.environ.get('PYDANTIC_DISABLE_PLUGINS'), 'pydantic' in sys.modules,\n"
            "                       'pydantic.plugin._loader' in sys.modules,\n"
            "                       flush=True) or 0\n"
            "d.entry()\n")
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if preset is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = preset
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{preset or '__all__'} False {preset is None}"
    # and a program that imports specc keeps its environment as it was
    proc = subprocess.run([sys.executable, "-c", "import os, specc.pipeline; "
                           "print(os.environ.get('PYDANTIC_DISABLE_PLUGINS'))"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == str(preset)


def test_checking_a_valid_spec_builds_no_schema_of_the_whole_document() -> None:
    # Each loss, optimizer and scheduler is validated as the member its type names
    # (validate/sections.py); the whole document's schema, every member of every union, is built
    # only to report a problem.  A spec with a problem still builds it.
    code = ("import sys, specc\nfrom specc.validate.document import Document\n"
            "spec = specc.load(sys.argv[1])\nprint(spec.ok, Document.__pydantic_complete__)")
    bad = "tests/corpus/bad/v003_negative_lr.yaml"
    for path, expected in (("specs/resnet18.yaml", "True False"), (bad, "False True")):
        proc = subprocess.run([sys.executable, "-c", code, path], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == expected, path


def test_the_stand_in_for_pydantics_plugin_loader_does_what_the_loader_does() -> None:
    # Pydantic reads its loader through one name, get_plugins, which returns no plugins when they are all
    # off: the stand-in (specc.cli.dispatch.skip_plugin_loader) answers the same, and a check through
    # the command line then never imports importlib.metadata.  A Pydantic that reads more of the module
    # fails here, not in a user's hands (the stand-in also hands any other name to the real module).
    import pydantic

    imported = set()
    for source in Path(pydantic.__file__).parent.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        if "_loader" in text and source.name != "_loader.py":
            imported |= {(source.name, n.module, a.name) for n in ast.walk(ast.parse(text))
                         if isinstance(n, ast.ImportFrom) and (n.module or "").endswith("_loader") for a in n.names}
    assert imported == {("_schema_validator.py", "_loader", "get_plugins")}
    code = ("import importlib, os, sys\n"
            "from specc.cli.dispatch import skip_plugin_loader, PLUGIN_LOADER\n"
            "real = importlib.import_module(PLUGIN_LOADER)\n"
            "answers = [list(real.get_plugins())]\n"
            "for m in [m for m in sys.modules if m.startswith(('pydantic', 'importlib.metadata'))]:\n"
            "    del sys.modules[m]\n"
            "skip_plugin_loader()\n"
            "import specc.pipeline\n"
            "spec = specc.pipeline.load(sys.argv[1])\n"
            "stand_in = sys.modules[PLUGIN_LOADER]\n"
            "answers += [list(stand_in.get_plugins()), spec.ok, 'importlib.metadata' in sys.modules,\n"
            "            stand_in.PYDANTIC_ENTRY_POINT_GROUP == real.PYDANTIC_ENTRY_POINT_GROUP]\n"
            "print(answers)\n")
    env = {**os.environ, "PYDANTIC_DISABLE_PLUGINS": "__all__"}
    proc = subprocess.run([sys.executable, "-c", code, "specs/xor.yaml"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[[], [], True, False, True]"


@pytest.mark.parametrize("verb", ["check", "summary", "export", "train"])
def test_a_verb_run_first_builds_its_own_parser_alone_and_the_same(verb: str) -> None:
    from specc.cli.dispatch import VERBS, build_parser

    def parser_of(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return next(a for a in parser._actions if a.dest == "verb").choices[verb]

    alone, every = build_parser(verb, alone=True), build_parser(verb)
    assert list(next(a for a in alone._actions if a.dest == "verb").choices) == [verb]
    assert len(next(a for a in every._actions if a.dest == "verb").choices) == len(VERBS)
    assert parser_of(alone).format_help() == parser_of(every).format_help()
    assert alone.format_usage() == every.format_usage()
