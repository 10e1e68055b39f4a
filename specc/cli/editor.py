"""The editor, picture and set-up verbs: `specc graph`, `specc schema`, `specc lsp`, `specc init`,
`specc doctor`.

Each module they need is imported when the verb runs.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from .common import EXIT_OK, EXIT_SPEC, UsageError, Verb, load_spec, print_diagnostics, spec_options, write_file

_SUFFIX = {"mermaid": (".mmd", ".md", ".mermaid"), "dot": (".dot", ".gv"), "svg": (".svg",), "html": (".html", ".htm")}


def _write(output: str | None, text: str, what: str) -> None:
    if not output or output == "-":
        sys.stdout.write(text)
        return
    write_file(output, text)
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

    spec = load_spec(args.spec, args.set)
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


def cmd_init(args: argparse.Namespace) -> int:
    from ..scaffold import SCAFFOLDS, InitError, write_scaffold

    if args.list:
        width = max(len(t) for t in SCAFFOLDS)
        for s in SCAFFOLDS.values():
            sys.stdout.write(f"{s.task.ljust(width)}  {s.summary}\n")
        return EXIT_OK
    if not args.task:
        raise UsageError(f"choose a task with --task: {', '.join(SCAFFOLDS)} (specc init --list describes them)")
    try:
        write_scaffold(args.task, args.output, args.force)
    except InitError as exc:
        raise UsageError(str(exc)) from None
    if args.output not in (None, "-"):
        arg = shlex.quote(args.output)  # the commands are for pasting into a shell, spaces and all
        sys.stderr.write(f"wrote {args.output} ({args.task}); next: specc check {arg}, then "
                         f"specc compile {arg} --train -o train.py && python train.py\n")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..backends.doctor import collect, render
    from ..diagnostics import dumps_json

    report = collect()
    sys.stdout.write((dumps_json(report) if args.format == "json" else render(report)) + "\n")
    return EXIT_OK


def _graph_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Draw the network from its checked shapes (no forward pass, no torch). "
                     "Errors are drawn in red at the layer at fault; the exit code is 1 then.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--format", choices=tuple(_SUFFIX), help="default: from -o's suffix, else mermaid")
    p.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")
    p.add_argument("--expand", nargs="?", const="*", metavar="BLOCK[,BLOCK]",
                   help="draw blocks and repeats open: all of them, or the named instances (e.g. layer2.0)")
    p.add_argument("--collapse", action="store_true", help="draw every block as one box (the default)")
    spec_options(p)


def _schema_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("Write a JSON Schema (draft 2020-12) of the spec language, generated from "
                     "specc's own layer catalogue and models.")
    p.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")


def _lsp_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("A Language Server Protocol server on stdin/stdout: diagnostics as you type, "
                     "shapes on hover and as inlay hints, completion, go to definition.")


def _init_arguments(p: argparse.ArgumentParser) -> None:
    from ..scaffold import SCAFFOLDS

    p.description = "Scaffold a spec that checks clean and trains on bundled or synthetic data."
    p.add_argument("--task", choices=list(SCAFFOLDS), help="what the model is for")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write the spec (default: stdout)")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--list", action="store_true", help="list the tasks")


def _doctor_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "What specc finds in this environment, and why CUDA is or is not usable."
    p.add_argument("--format", choices=("text", "json"), default="text")


VERBS = {
    "graph": Verb(_graph_arguments, cmd_graph),
    "schema": Verb(_schema_arguments, cmd_schema),
    "lsp": Verb(_lsp_arguments, cmd_lsp),
    "init": Verb(_init_arguments, cmd_init),
    "doctor": Verb(_doctor_arguments, cmd_doctor),
}
