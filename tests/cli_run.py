"""The ``specc`` command line run in-process, for tests that read its exit code and output."""

from __future__ import annotations

import pytest

from specc.cli import main as cli


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``specc ARGV...`` in this process: (exit code, stdout, stderr)."""
    code = cli(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def ctrl_c_restored() -> None:
    """``preexec_fn`` for a child a test interrupts with SIGINT: a shell that starts a job in the
    background (``cmd &`` without job control) makes it ignore SIGINT, and its children inherit that,
    so the Ctrl-C the test sends would be dropped; back to the default, Python installs its handler."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
