"""The editor and picture verbs: `specc graph`, `specc schema`, `specc lsp`.

Each module they need is imported when the verb runs, so `specc check` starts no slower.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .main import EXIT_OK, EXIT_SPEC, UsageError, _load, print_diagnostics

_SUFFIX = {"mermaid": (".mmd", ".md", ".mermaid"), "dot": (".dot", ".gv"), "svg": (".svg",), "html": (".html", ".htm")}


def _write(output: str | None, text: str, what: str) -> None:
    if not output or output == "-":
        sys.stdout.write(text)
        return
    from ..atomic import atomic_write  # secrets and friends: not on `specc check`'s start-up

    try:
        atomic_write(output, text)
    except OSError as exc:  # a full disk or a read-only folder is not a bug in specc
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    sys.stderr.write(f"wrote {output} ({what})\n")


def _format_of(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output:
        for fmt, suffixes in _SUFFIX.items():
            if args.output.lower().endswith(suffixes):
                return fmt
    return "mermaid"


def cmd_graph(args: argparse.Namespace) -> int:
    from ..report.graph import UnknownGroup, render

    spec = _load(args.spec, args.set)
    if spec.diagnostics:
        print_diagnostics(spec)
    if spec.graph is None:
        sys.stderr.write(f"{spec.path}: the layers could not be read, so there is nothing to draw; "
                         "nothing was written\n")
        return EXIT_SPEC
    fmt = _format_of(args)
    expand = None if args.collapse else args.expand
    try:
        text = render(spec, fmt, expand)
    except UnknownGroup as exc:
        raise UsageError(str(exc)) from None
    n_err = len(spec.errors)
    _write(args.output, text, f"{fmt}, {spec.name}" + (f", {n_err} error{'s' if n_err != 1 else ''} marked in red"
                                                        if n_err else ""))
    return EXIT_OK if spec.ok else EXIT_SPEC


def cmd_schema(args: argparse.Namespace) -> int:
    from ..report.schema import schema_text

    _write(args.output, schema_text(), "JSON Schema of the spec language")
    return EXIT_OK


def cmd_lsp(args: argparse.Namespace) -> int:
    try:
        from ..lsp.server import serve
    except ImportError as exc:
        raise UsageError(f"specc lsp needs pygls: pip install 'specc[lsp]' ({exc})") from None
    serve()
    return EXIT_OK


def add_verbs(sub: argparse._SubParsersAction, spec_options: Callable[[argparse.ArgumentParser], None],
              make: Callable[[str, str], Callable[[argparse.Namespace], int]]) -> None:
    """Register the verbs on the main parser (``make`` wraps a verb so its module loads when it runs)."""
    p = sub.add_parser("graph", help="draw the network: Mermaid, Graphviz DOT, SVG or an HTML page",
                       description="Draw the network from its checked shapes (no forward pass, no torch). "
                                   "Errors are drawn in red at the layer at fault; the exit code is 1 then.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--format", choices=tuple(_SUFFIX), help="default: from -o's suffix, else mermaid")
    p.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")
    p.add_argument("--expand", nargs="?", const="*", metavar="BLOCK[,BLOCK]",
                   help="draw blocks and repeats open: all of them, or the named instances (e.g. layer2.0)")
    p.add_argument("--collapse", action="store_true", help="draw every block as one box (the default)")
    spec_options(p)
    p.set_defaults(func=make(".editor", "cmd_graph"))

    p = sub.add_parser("schema", help="write the JSON Schema of the spec language (for editors)",
                       description="Write a JSON Schema (draft 2020-12) of the spec language, generated from "
                                   "specc's own layer catalogue and models.")
    p.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")
    p.set_defaults(func=make(".editor", "cmd_schema"))

    p = sub.add_parser("lsp", help="run the language server (stdio) for editors",
                       description="A Language Server Protocol server on stdin/stdout: diagnostics as you type, "
                                   "shapes on hover and as inlay hints, completion, go to definition.")
    p.set_defaults(func=make(".editor", "cmd_lsp"))
