"""The ``specc`` command line run in-process, for tests that read its exit code and output."""

from __future__ import annotations

import pytest

from specc.cli import main as cli


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``specc ARGV...`` in this process: (exit code, stdout, stderr)."""
    code = cli(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err
