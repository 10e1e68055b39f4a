"""The `torch` and `onnx` markers, applied by one rule so that

    pytest -m "not torch and not onnx"

runs the pure-Python suite without importing torch, onnx or onnxruntime.

The rule reads source, never runs it. A test needs a heavy package when
- its module imports one at its top (directly, through a tests/ helper module, or through a
  specc module whose own top-level imports reach one): every test of the module needs it, and
  the module is not even imported when the -m expression leaves out its markers;
- its function, a decorator, a fixture it asks for or a helper of its module it names (and so
  on, transitively) imports one inside a function, calls ``specc.build``/``specc.train``, uses
  something from specc.backends or specc.targets that imports one when it runs, or runs a CLI
  verb that imports one (``main(["export", ...])``, ``python -m specc train ...``).

A guard keeps the rule honest: a test without the marker that imports a heavy package while
none is loaded yet (every test of the run above) fails, naming the marker it needs.
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER") and "OMP_NUM_THREADS" not in os.environ:
    # pytest-xdist runs a worker per core: torch's default of one thread per core in each would
    # oversubscribe the cores (set before any test imports torch; subprocesses inherit it)
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    os.environ["OMP_NUM_THREADS"] = str(max(1, _cores // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))

try:  # timing is no property of a spec: on a loaded CI machine a slow draw or example is no failure
    from hypothesis import HealthCheck, settings

    settings.register_profile("specc", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("specc")
except ImportError:  # hypothesis is a dev dependency: the tests that use it skip without it
    pass

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# each heavy package, and the marker of the tests that need it
HEAVY = {"torch": "torch", "onnx": "onnx", "onnxruntime": "onnx", "onnxscript": "onnx"}
# CLI verbs that import heavy packages when they run (specc/cli/export.py, train.py; doctor reports their versions)
HEAVY_VERBS = {"export": {"torch", "onnx"}, "run": {"torch", "onnx"}, "bench": {"torch", "onnx"},
               "train": {"torch"}, "predict": {"torch"}, "evaluate": {"torch"}, "doctor": {"torch", "onnx"}}
SPECC_API = {"build": {"torch"}, "train": {"torch"}}  # specc.build and specc.train import torch when called


# -- what importing a module pulls in ------------------------------------------------------------------------

def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    base = ROOT if parts[0] == "specc" else TESTS
    for candidate in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(stmts: Iterable[ast.stmt], module: str, is_package: bool, top: bool) -> Iterator[str]:
    """The modules ``stmts`` import; with ``top``, only those run on import (not in functions, not for type
    checkers)."""
    for stmt in stmts:
        nodes = ast.walk(stmt) if not top else [stmt]
        for node in nodes:
            if isinstance(node, ast.Import):
                yield from (a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                origin = _resolve(node, module, is_package)
                yield origin
                yield from (f"{origin}.{a.name}" for a in node.names)
            elif skipped := _importorskip(node.value if top and isinstance(node, (ast.Assign, ast.Expr)) else node):
                yield skipped
            elif top and isinstance(node, (ast.If, ast.Try, ast.With)):
                if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                    continue
                body = [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                        *(s for h in getattr(node, "handlers", []) for s in h.body)]
                yield from _imports(body, module, is_package, top)


def _importorskip(node: ast.AST) -> str | None:
    """The module of ``pytest.importorskip("x")``: an import like any other."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "importorskip"
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return node.args[0].value
    return None


def _lazy_attributes(tree: ast.Module) -> bool:
    """A module ``__getattr__`` that imports on first use (specc.backends.train's names)."""
    return any(isinstance(s, ast.FunctionDef) and s.name == "__getattr__" for s in tree.body)


_IN_PROGRESS: set[str] = set()  # an import cycle stops at the module being read


@cache
def heavy_on_import(name: str) -> frozenset[str]:
    """The markers whose packages ``import name`` loads (a local module's top-level imports, transitively)."""
    root = name.split(".")[0]
    if root in HEAVY:
        return frozenset({HEAVY[root]})
    path = _module_file(name)
    if path is None:
        return frozenset()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
    imported = [*parents, *_imports(tree.body, name, is_package, top=True)]
    if _lazy_attributes(tree) and is_package:
        imported += [f"{name}.{sub.stem}" for sub in path.parent.glob("*.py") if sub.name != "__init__.py"]
    _IN_PROGRESS.add(name)
    try:
        return frozenset().union(*(heavy_on_import(m) for m in imported if m not in _IN_PROGRESS))
    finally:
        _IN_PROGRESS.discard(name)


@cache
def heavy_on_use(name: str) -> frozenset[str]:
    """The markers whose packages using ``name`` (a module under specc.backends or specc.targets, the
    only places allowed to import them) may load: what any of its imports loads, and torch and onnx
    both when it imports modules by name (specc doctor probes every backend so)."""
    path = _module_file(name)
    if path is None:
        return heavy_on_import(name)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    out = set(heavy_on_import(name))
    for imported in _imports(tree.body, name, is_package, top=False):
        out |= heavy_on_import(imported)
    if any(isinstance(n, ast.Attribute) and n.attr == "import_module" for n in ast.walk(tree)):
        out |= {"torch", "onnx"}
    return frozenset(out)


def _backend_names(tree: ast.Module) -> dict[str, str]:
    """Names a test module binds at its top to a backend or target module, or to something in one."""
    out: dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.module.startswith(_BACKENDS):
            for a in stmt.names:
                sub = f"{stmt.module}.{a.name}"
                out[a.asname or a.name] = sub if _module_file(sub) else stmt.module
        elif isinstance(stmt, ast.Import):
            out.update({a.asname: a.name for a in stmt.names if a.asname and a.name.startswith(_BACKENDS)})
    return out


_BACKENDS = ("specc.backends", "specc.targets")


# -- what running a test's code needs ---------------------------------------------------------------------------

def _verb_markers(node: ast.AST) -> set[str]:
    """A heavy CLI verb run by ``node``: the first text of a list, tuple or call, or the one after 'specc'."""
    items: list[ast.expr] = []
    if isinstance(node, (ast.List, ast.Tuple)):
        items = list(node.elts)
    elif isinstance(node, ast.Call):
        items = list(node.args)
    texts = [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]
    out: set[str] = set()
    for i, text in enumerate(texts):
        if text in HEAVY_VERBS and (i == 0 or texts[i - 1] == "specc"):
            out |= HEAVY_VERBS[text]
    return out


def _direct_needs(fn: ast.AST, module: str, specc_names: set[str], backend_names: dict[str, str]) -> set[str]:
    out: set[str] = set()
    for imported in _imports([fn], module, False, top=False) if isinstance(fn, ast.stmt) else ():
        out |= heavy_on_import(imported)
    for node in ast.walk(fn):
        out |= _verb_markers(node)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "specc":
            out |= SPECC_API.get(node.attr, set())
        elif isinstance(node, ast.Name) and node.id in specc_names:
            out |= SPECC_API.get(node.id, set())
        if isinstance(node, ast.Name) and node.id in backend_names:
            out |= heavy_on_use(backend_names[node.id])
    return out


class ModuleNeeds:
    """The markers of one test module: for the module as a whole, and per test function."""

    def __init__(self, path: Path) -> None:
        self.name = path.stem
        tree = ast.parse(path.read_text(encoding="utf-8"))
        self.module: set[str] = set()
        for imported in _imports(tree.body, self.name, False, top=True):
            self.module |= heavy_on_import(imported)
        # names bound by `from specc import build, train`
        specc_names = {a.asname or a.name for s in tree.body if isinstance(s, ast.ImportFrom) and s.module == "specc"
                       for a in s.names}
        self.defs = {s.name: s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.ClassDef))}
        backend_names = _backend_names(tree)
        self.direct = {name: _direct_needs(d, self.name, specc_names, backend_names) for name, d in self.defs.items()}
        self._memo: dict[str, set[str]] = {}

    def of(self, name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        """What running ``name`` (a test, helper or fixture of this module) needs, through what it names."""
        if name in self._memo:
            return self._memo[name]
        out = set(self.direct.get(name, set()))
        d = self.defs.get(name)
        if d is not None:
            named = {n.id for n in ast.walk(d) if isinstance(n, ast.Name)}
            if isinstance(d, ast.FunctionDef):
                named |= {a.arg for a in d.args.args}  # the fixtures it asks for
            for other in (named & set(self.defs)) - seen - {name}:
                out |= self.of(other, seen | {name})
        if not seen:
            self._memo[name] = out
        return out


@cache
def needs_of(path: Path) -> ModuleNeeds:
    return ModuleNeeds(path)


# -- the hooks ---------------------------------------------------------------------------------------------------

def _excluded(config: pytest.Config, markers: set[str]) -> bool:
    expr = config.getoption("markexpr")
    if not expr or not markers:
        return False
    from _pytest.mark.expression import Expression  # pytest's own -m parser

    return not Expression.compile(expr).evaluate(lambda name, **_: name in markers)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if (collection_path.suffix == ".py" and collection_path.name.startswith("test_")
            and _excluded(config, needs_of(collection_path).module)):
        return True  # importing it would import what the run leaves out
    return None


# Modules whose single tests take many seconds each (subprocesses that import torch, kill-and-resume,
# several processes training, the largest architectures exported, training runs), longest first. They
# run first: under `--dist worksteal` each worker starts on its half of the collection and one that runs
# out takes the end of the other's, so a long test collected last (test_train_* sort near the end) kept
# one core busy alone while the other idled. Each module stays whole and in its own order: a module-scoped
# fixture (a trained run shared by its tests) is built once per unbroken run of its module's tests.
SLOW_FIRST = ("test_train_resume", "test_train_ddp", "test_kill_safety", "test_every_stage", "test_train_script",
              "test_export_route", "test_published_params", "test_deploy_without_torch", "test_lazy_imports",
              "test_train_integration", "test_train", "test_promise_fuzz", "test_fuzz")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by these markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not isinstance(item, pytest.Function) or item.path.parent != TESTS:
            continue
        needs = needs_of(item.path)
        fn = item.originalname
        for marker in sorted(needs.module | needs.of(fn) | _class_needs(item, needs)):
            item.add_marker(marker)
    if gone := [name for name in SLOW_FIRST if not (TESTS / f"{name}.py").is_file()]:
        raise pytest.UsageError(f"SLOW_FIRST in tests/conftest.py names {', '.join(gone)}, no module of tests/ now: "
                                "rename or remove it there")
    first = {name: i for i, name in enumerate(SLOW_FIRST)}
    # a stable sort: every worker collects the same order, as pytest-xdist requires
    items.sort(key=lambda item: first.get(item.path.stem, len(first)) if item.path.parent == TESTS else len(first))


def _class_needs(item: pytest.Function, needs: ModuleNeeds) -> set[str]:
    return needs.of(item.cls.__name__) if item.cls is not None else set()


def pytest_collection_finish(session: pytest.Session) -> None:
    loaded = {HEAVY[p] for p in HEAVY if sys.modules.get(p) is not None}
    left_out = sorted(m for m in loaded if _excluded(session.config, {m}))
    if left_out:
        raise pytest.UsageError(f"collecting the tests imported what the marker {', '.join(left_out)} stands for, "
                                "which this run leaves out: a test module the rule in tests/conftest.py reads as "
                                "light imports it")


def _guard(item: pytest.Item) -> Iterator[None]:
    loaded = {p for p in HEAVY if sys.modules.get(p) is not None}
    result = yield
    if not loaded:
        marks = {m.name for m in item.iter_markers()}
        missing = sorted({HEAVY[p] for p in HEAVY if sys.modules.get(p) is not None} - marks)
        if missing:
            pytest.fail(f"this test imports what the marker {', '.join(missing)} stands for but does not carry it: "
                        "teach the rule in tests/conftest.py how it gets there (or mark it)", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    return (yield from _guard(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _guard(item))
