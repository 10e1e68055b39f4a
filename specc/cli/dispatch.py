"""The ``specc`` command line: the parser, and the dispatch to the module of the verb being run.

Exit codes: 0 success; 1 the spec (or a model) has errors; 2 usage error; 3 specc itself
failed (a bug: the note says how to report it); 130 interrupted.
Only the module of the verb being run is imported, so `specc check` never pays for the
heavy backends (torch, onnx, onnxruntime) that other verbs import.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import os
import sys
from collections.abc import Sequence

from ..atomic import Terminated, terminate_cleanly
from ..version import __version__
from .common import (
    EXIT_CRASH,
    EXIT_INTERRUPT,
    EXIT_OK,
    EXIT_SPEC,
    EXIT_TERMINATED,
    EXIT_USAGE,
    SpecFailed,
    UsageError,
    err,
)

# Every verb, in the order `specc --help` lists them: the module of specc.cli that declares and
# runs it (its VERBS entry), and its line in the help.
VERBS: dict[str, tuple[str, str]] = {
    "check": ("check", "check specs for errors and shape mismatches (fast; no torch)"),
    "summary": ("check", "layer table: output shapes, parameters, MACs"),
    "compile": ("compile", "write readable, standalone PyTorch source for a spec"),
    "export": ("export", "export a spec to a verified ONNX model"),
    "run": ("export", "run an ONNX model (or a spec) on ONNX Runtime"),
    "bench": ("export", "latency and throughput: PyTorch eager, torch.compile, ONNX Runtime"),
    "init": ("editor", "write a commented starting spec for a task"),
    "doctor": ("editor", "report versions, CUDA and ONNX Runtime providers, thread counts"),
    "train": ("train", "train a spec: a run folder with checkpoints, curves and a report"),
    "predict": ("train", "predict with a trained run: raw inputs in, original units out"),
    "evaluate": ("train", "the task's metrics of a trained run on a data source"),
    "layers": ("check", "list the layer types specc knows"),
    "explain": ("check", "explain a diagnostic code (e.g. specc explain S001)"),
    "graph": ("editor", "draw the network: Mermaid, Graphviz DOT, SVG or an HTML page"),
    "schema": ("editor", "write the JSON Schema of the spec language (for editors)"),
    "lsp": ("editor", "run the language server (stdio) for editors"),
}


def build_parser(verb: str | None = None, alone: bool = False) -> argparse.ArgumentParser:
    """The parser of every verb's name and help line; ``verb``'s own options are declared too
    (by its module, imported here), the others' only when they run.  ``alone``: ``verb``'s
    parser without the others', for a run that cannot print the top-level help (building the
    other fifteen cost 12 M instructions, ~2 ms, of every `specc check`)."""
    parser = argparse.ArgumentParser(
        prog="specc",
        description="Compile declarative YAML model specs: check shapes, summarise, emit PyTorch, export ONNX.",
        epilog="Exit codes: 0 ok, 1 the spec has errors, 2 usage error, 3 specc failed (please report).")
    parser.add_argument("--version", action="version", version=f"specc {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    for name, (module, help_line) in VERBS.items():
        if alone and name != verb:
            continue
        p = sub.add_parser(name, help=help_line)
        if name == verb:
            declared = importlib.import_module(f".{module}", __package__).VERBS[name]
            declared.arguments(p)
            p.set_defaults(func=declared.run)
    return parser


# The optional packages a verb may import, and the extra that brings each (pyproject.toml). A missing
# one is the installation's choice, not a bug in specc: the message says what to install.
_EXTRAS = {
    "torch": "pip install 'specc[torch]' (or the PyTorch build for your platform, https://pytorch.org)",
    "onnx": "pip install 'specc[deploy]' (ONNX and ONNX Runtime, no torch) or 'specc[onnx]' (with torch)",
    "onnxruntime": "pip install 'specc[deploy]' (ONNX and ONNX Runtime, no torch) or 'specc[onnx]' (with torch)",
    "onnxscript": "pip install 'specc[onnx]' (torch's dynamo exporter needs onnxscript), or export with --via direct",
    "numpy": "pip install 'specc[deploy]' or 'specc[torch]'",
    "safetensors": "pip install 'specc[deploy]' or 'specc[torch]'",
    "sklearn": "pip install 'specc[train]' (scikit-learn)",
    "matplotlib": "pip install 'specc[train]' (matplotlib)",
    "PIL": "pip install 'specc[train]' (Pillow)",
}


def missing_extra(module: str) -> str | None:
    """What to install for a missing optional package, or None when the module is no optional
    dependency (a missing module of specc's own is a bug and reported as one)."""
    return _EXTRAS.get(module.split(".")[0])


def _verb_of(argv: Sequence[str]) -> str | None:
    """The verb named on the command line (the options before it take no values)."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in VERBS else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verb = _verb_of(argv)
    try:  # the verb's module is imported while the parser is built: Ctrl-C there is an interrupt too
        # The verb first (`specc check …`): no option before it may ask for the top-level help.
        args = build_parser(verb, alone=verb is not None and argv[0] == verb).parse_args(argv)
        return int(args.func(args))
    except UsageError as exc:
        err(f"specc {verb}: error: {exc}")
        return EXIT_USAGE
    except SpecFailed:
        return EXIT_SPEC
    except KeyboardInterrupt as exc:
        err(f"{'terminated' if isinstance(exc, Terminated) else 'interrupted'}; no partial output was left behind")
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPT
    except BrokenPipeError:
        return EXIT_OK
    except ModuleNotFoundError as exc:
        install = missing_extra(exc.name or "")
        if install is None or os.environ.get("SPECC_DEBUG"):
            raise
        err(f"specc {verb}: error: this needs {exc.name}, which is not installed here: {install}")
        return EXIT_USAGE
    except Exception as exc:
        if os.environ.get("SPECC_DEBUG"):
            raise
        err(f"specc {verb}: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in specc, not in your spec. Please report it with the spec attached "
            "(set SPECC_DEBUG=1 to see the traceback).")
        return EXIT_CRASH


def _nothing_to_tear_down() -> bool:
    """Whether a normal exit would do anything but free memory: torch may have data-loader
    workers and compile caches, multiprocessing joins its children, threading its threads.
    (ONNX Runtime's and onnx's own threads and files end with the calls that use them.)"""
    if "torch" in sys.modules:
        return False
    mp = sys.modules.get("multiprocessing")
    if mp is not None and mp.active_children():
        return False
    import threading

    return all(t.daemon or t is threading.main_thread() for t in threading.enumerate())


# The values of PYDANTIC_DISABLE_PLUGINS that turn every plugin off (pydantic/plugin/_loader.py)
PLUGINS_OFF = ("__all__", "1", "true")
PLUGIN_LOADER = "pydantic.plugin._loader"


def skip_plugin_loader() -> None:
    """With every Pydantic plugin switched off, stand in for Pydantic's plugin loader.

    Its module imports importlib.metadata at its top (email, zipfile, csv and more: ~50 M
    instructions, 4 % of a `specc check`) only to find entry points, which ``get_plugins`` never
    reads when PYDANTIC_DISABLE_PLUGINS turns them all off: it returns no plugins.  So does this
    stand-in.  A user's setting that names some plugins keeps the real loader, as does a process
    where Pydantic is already imported.  Any other name is read from the real module, loaded on
    first use (tests/test_lazy_imports.py holds the stand-in to what Pydantic's own loader does).
    """
    if os.environ.get("PYDANTIC_DISABLE_PLUGINS") not in PLUGINS_OFF or "pydantic" in sys.modules:
        return
    import types

    stand_in = types.ModuleType(PLUGIN_LOADER, "Pydantic's plugin loader while every plugin is off (specc.cli)")

    def get_plugins(*args: object, **kwargs: object) -> object:
        # a later Pydantic that passes arguments, or plugins switched back on: the real lookup
        if os.environ.get("PYDANTIC_DISABLE_PLUGINS") in PLUGINS_OFF and not args and not kwargs:
            return ()
        return real().get_plugins(*args, **kwargs)

    @functools.cache
    def real() -> types.ModuleType:
        import importlib.machinery
        import importlib.util

        from pydantic import plugin

        found = importlib.machinery.PathFinder.find_spec(PLUGIN_LOADER, plugin.__path__)
        if found is None or found.loader is None:
            raise ImportError(f"no module named {PLUGIN_LOADER!r}", name=PLUGIN_LOADER)
        module = importlib.util.module_from_spec(found)
        found.loader.exec_module(module)
        return module

    def other(name: str) -> object:
        if name.startswith("__"):  # what the import system asks of any module (__path__: no package)
            raise AttributeError(name)
        return getattr(real(), name)

    stand_in.get_plugins = get_plugins  # type: ignore[attr-defined]
    stand_in.__getattr__ = other  # type: ignore[method-assign]
    sys.modules[PLUGIN_LOADER] = stand_in


def entry() -> None:
    # numpy asks the kernel for huge pages on every large array; where the kernel then compacts
    # memory to find them (transparent_hugepage/defrag = madvise, the common default), the first
    # touch of a large model's weights costs several times more: VGG-11's 531 MB drawn and
    # written took 1.2 s more.  specc touches its arrays once, where huge pages buy nothing.
    # (A user's own setting stands; numpy reads it when first imported, which is after this.)
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
    # Pydantic's first model looks for plugins by reading the entry points of every installed
    # package, a cost that grows with the environment and serves nobody here: specc's models
    # are its own.  A user's own setting (``PYDANTIC_DISABLE_PLUGINS``) is kept.  Set before
    # Pydantic is imported; the library (``import specc``) leaves the environment alone.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    skip_plugin_loader()
    terminate_cleanly()  # SIGTERM unwinds like Ctrl-C, so no writer leaves a temp file behind
    code = main()
    if _nothing_to_tear_down():
        # Interpreter teardown frees every module's objects one by one: a sixth of a fast `specc
        # check` (every Pydantic schema) and ~70 ms of a direct export (onnx, ONNX Runtime, numpy),
        # for nothing, since every output is already written, closed and renamed into place.
        # mypy exits the same way.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BrokenPipeError, OSError):  # `specc check … | head`: the reader left
                stream.flush()
        os._exit(code)
    sys.exit(code)
