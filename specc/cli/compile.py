"""`specc compile`: write the generated module (atomically) or print it."""

from __future__ import annotations

import argparse
import sys

from ..atomic import atomic_write
from ..diagnostics import Diagnostic, Location, render_text, use_colour
from ..emit import compile_source
from ..emit.context import EmitError
from ..emit.gate import GateError
from ..emit.quote import UnsafeValue
from .main import EXIT_OK, EXIT_SPEC, UsageError, _load, _require_ok


def cmd_compile(args: argparse.Namespace) -> int:
    spec = _load(args.spec, args.set)
    if not _require_ok(spec):
        return EXIT_SPEC
    try:
        source = compile_source(spec, train=args.train)
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
    try:
        atomic_write(args.output, source)
    except OSError as exc:  # a full disk or a read-only folder is not a bug in specc
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    lines = source.count("\n")
    sys.stderr.write(f"wrote {args.output} ({lines} lines, class {spec.name}"
                     f"{', with a training entry point' if args.train else ''})\n")
    return EXIT_OK
