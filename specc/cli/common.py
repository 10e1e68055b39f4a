"""What every verb of the command line shares: exit codes, the usage error, loading a spec
and printing its diagnostics, the ``--set`` option, and how a verb is declared.

Light on purpose: `specc check` imports this module, so nothing heavy comes in here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..diagnostics import render_github, render_text, source_lines, use_colour

EXIT_OK, EXIT_SPEC, EXIT_USAGE, EXIT_CRASH, EXIT_INTERRUPT, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143


class UsageError(Exception):
    """A wrong command line (a missing file, a bad option value): exit 2 with the message."""


class SpecFailed(Exception):
    """The spec has errors, already reported where they were found: exit 1 from deep in a verb."""


class Verb:
    """One verb: ``arguments`` declares its options (and description) on its parser; ``run``
    does the work and returns the exit code."""

    # A plain slotted class, not a dataclass: defining one costs 2-4 M instructions (its methods
    # are generated and exec'd), a cost of every command, `specc check` first.
    __slots__ = ("arguments", "run")

    def __init__(self, arguments: Callable[[argparse.ArgumentParser], None],
                 run: Callable[[argparse.Namespace], int]) -> None:
        self.arguments = arguments
        self.run = run


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    sys.stderr.write(text + "\n")


def spec_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", metavar="NAME=VALUE", default=[],
                   help="override a variable from vars: (or a key path such as train.epochs=3); repeatable")


STDIN, STDIN_NAME = "-", "<stdin>"  # `specc check -` reads the spec from standard input


def load_spec(path: str, overrides: list[str] | None, ignore: list[str] | None = None, data: bool = False) -> Any:
    """The checked spec at ``path``; ``ignore`` are --ignore's comma-separated warning codes; ``data``:
    its training data read too (`specc check`; train reads and reports it itself, other verbs need none)."""
    from ..pipeline import load, loads

    if path != STDIN and not Path(path).is_file():
        raise UsageError(f"no such spec file: {path}")
    from ..validate.naming import silenceable_list, split_silenceable

    codes, unknown = split_silenceable(c.strip() for item in ignore or [] for c in item.split(",") if c.strip())
    if unknown:
        raise UsageError(f"--ignore {', '.join(str(c).upper() for c in unknown)}: only warnings can be silenced "
                         f"({silenceable_list()})")
    if path == STDIN:  # an editor's buffer or a pipe; one byte past the limit says it is too large
        from ..load.limits import MAX_BYTES

        return loads(sys.stdin.buffer.read(MAX_BYTES + 1), STDIN_NAME, overrides, codes, data=data)
    return load(path, overrides, codes, data=data)


def print_diagnostics(spec: Any, fmt: str = "text", stream: Any = None) -> None:
    stream = stream or sys.stderr
    colour = use_colour(stream)
    lines = source_lines(spec.text)
    for d in spec.diagnostics:
        if fmt == "github":
            stream.write(render_github(d) + "\n")
        else:
            source = lines if d.loc and d.loc.file == spec.path else None
            stream.write(render_text(d, colour, source) + "\n")


def require_ok(spec: Any, fmt: str = "text", outcome: str = "nothing was written") -> bool:
    """Print the spec's diagnostics; True when it has no errors (else the count and ``outcome``)."""
    if spec.diagnostics:
        print_diagnostics(spec, "github" if fmt == "github" else "text")
    if not spec.ok:
        n = len(spec.errors)
        err(f"{spec.path}: {n} error{'s' if n != 1 else ''}; {outcome}")
    return spec.ok


def write_file(path: str, data: str | bytes) -> None:
    """Write ``path`` atomically; a full disk or a read-only folder is the user's to fix, not a bug."""
    from ..atomic import atomic_write  # secrets and friends: not on `specc check`'s start-up

    try:
        atomic_write(path, data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
