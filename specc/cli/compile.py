"""`specc compile`: write the generated module (atomically) or print it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..diagnostics import Diagnostic, Location, render_text, use_colour
from ..targets.torch.emit import EmitError, GateError, UnsafeValue, compile_source
from .common import EXIT_OK, EXIT_SPEC, UsageError, Verb, load_spec, require_ok, spec_options, write_file


def cmd_compile(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec, args.set)
    if not require_ok(spec):
        return EXIT_SPEC
    try:
        out_dir = Path(args.output).parent if args.output and args.output != "-" else None
        source = compile_source(spec, train=args.train, script_dir=out_dir)
    except (EmitError, UnsafeValue, GateError) as exc:
        node = getattr(exc, "node", None)
        code = getattr(exc, "code", None) or ("V006" if isinstance(exc, UnsafeValue) else "E999")
        loc = node.loc if node else (Location(spec.path, 1, 1) if code == "V021" else None)
        d = Diagnostic(code, f"cannot write PyTorch: {exc}", loc,
                       getattr(exc, "hint", None) or "rename or simplify the offending part of the spec",
                       layer=node.path if node else None)
        sys.stderr.write(render_text(d, use_colour(sys.stderr)) + "\nnothing was written\n")
        return EXIT_SPEC
    if not args.output or args.output == "-":
        sys.stdout.write(source)
        return EXIT_OK
    if not args.output.endswith(".py"):
        raise UsageError(f"-o should name a .py file, got {args.output!r}")
    write_file(args.output, source)
    lines = source.count("\n")
    sys.stderr.write(f"wrote {args.output} ({lines} lines, class {spec.name}"
                     f"{', with a training entry point' if args.train else ''})\n")
    return EXIT_OK


def _compile_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write the module (default: stdout)")
    p.add_argument("--train", action="store_true", help="also write a runnable training script")
    spec_options(p)


VERBS = {"compile": Verb(_compile_arguments, cmd_compile)}
