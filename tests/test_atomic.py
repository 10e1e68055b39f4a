"""Atomic outputs: an error or Ctrl-C while writing leaves the previous file byte-identical
and no temp file behind, for ``specc.atomic.atomic_write`` and for ``specc compile -o``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_run import ctrl_c_restored

from specc import atomic
from specc.atomic import atomic_path, atomic_write
from specc.cli import EXIT_CRASH, EXIT_INTERRUPT, EXIT_OK, EXIT_USAGE, main

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS = b"# the previous model\nprevious = 1\n"


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "out" / "model.py"
    path.parent.mkdir()
    path.write_bytes(PREVIOUS)
    return path


def _untouched(target: Path) -> None:
    assert target.read_bytes() == PREVIOUS
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name], "a temp file was left behind"


def _half_then(exc: BaseException) -> Callable[[Path], None]:
    def writer(tmp: Path) -> None:
        tmp.write_bytes(b"# half a mod")
        raise exc
    return writer


FAILURES: dict[str, BaseException] = {
    "error": RuntimeError("disk on fire"),
    "ctrl-c": KeyboardInterrupt(),
    "exit": SystemExit(1),
    "oserror": OSError(28, "No space left on device"),
}


# -- atomic_write ----------------------------------------------------------------------------------

@pytest.mark.parametrize("failure", list(FAILURES))
def test_failing_writer_leaves_previous_file(target: Path, failure: str) -> None:
    with pytest.raises(type(FAILURES[failure])):
        atomic_write(target, _half_then(FAILURES[failure]))
    _untouched(target)


@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("step", ["write_bytes", "fsync", "replace"])
def test_failure_at_each_step_leaves_previous_file(target: Path, failure: str, step: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    exc = FAILURES[failure]

    def boom(*args: object, **kwargs: object) -> None:
        raise exc

    if step == "write_bytes":
        real = Path.write_bytes

        def half(self: Path, data: bytes) -> int:  # half the bytes reach the disk, then it fails
            real(self, data[: len(data) // 2])
            raise exc

        monkeypatch.setattr(Path, "write_bytes", half)
    elif step == "fsync":
        monkeypatch.setattr(atomic.os, "fsync", boom)
    else:
        monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(type(exc)):
        atomic_write(target, "new = 2\n" * 1000)
    monkeypatch.undo()
    _untouched(target)


def test_failure_without_a_previous_file_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "new" / "model.py"
    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, _half_then(KeyboardInterrupt()))
    assert list(path.parent.iterdir()) == []


def test_success_replaces_and_keeps_permissions(target: Path) -> None:
    os.chmod(target, 0o640)
    atomic_write(target, "new = 2\n")
    assert target.read_text() == "new = 2\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    fresh = target.parent / "fresh.py"
    atomic_write(fresh, b"x = 1\n")
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask  # what open() would give, not 0600


def test_atomic_path_for_writers_that_need_a_path(target: Path) -> None:
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_bytes(b"done\n")
        assert target.read_bytes() == PREVIOUS  # nothing visible until the block ends
    assert target.read_bytes() == b"done\n"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"done\n"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


# -- specc compile -o ---------------------------------------------------------------------------------

@pytest.mark.parametrize("failure", list(FAILURES))
def test_compile_interrupted_mid_write_leaves_previous_file(target: Path, failure: str,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    real = Path.write_bytes
    exc = FAILURES[failure]

    def half(self: Path, data: bytes) -> int:
        real(self, data[: len(data) // 2])
        raise exc

    monkeypatch.setattr(Path, "write_bytes", half)
    if isinstance(exc, SystemExit):
        with pytest.raises(SystemExit):
            main(["compile", str(ROOT / "specs" / "xor.yaml"), "-o", str(target)])
    else:
        code = main(["compile", str(ROOT / "specs" / "xor.yaml"), "-o", str(target)])
        expected = {"error": EXIT_CRASH, "ctrl-c": EXIT_INTERRUPT, "oserror": EXIT_USAGE}[failure]
        assert code == expected
        err = capsys.readouterr().err
        assert "Traceback" not in err
        if failure == "oserror":
            assert f"cannot write {target}: No space left on device" in err
    monkeypatch.undo()
    _untouched(target)


def test_compile_writes_when_nothing_fails(target: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compile", str(ROOT / "specs" / "xor.yaml"), "-o", str(target)]) == EXIT_OK
    assert target.read_text().startswith("# Generated by specc")
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_a_file_where_a_folder_must_be_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # mkdir says "File exists" of the whole path; the user needs to know which part is a file
    (tmp_path / "data.csv").write_text("a,b\n")
    blocked = tmp_path / "data.csv" / "sub" / "model.py"
    with pytest.raises(NotADirectoryError, match=r"data\.csv is a file, not a folder"):
        atomic_write(blocked, "x")
    assert atomic.file_in_the_way(blocked.parent) == tmp_path / "data.csv"
    assert atomic.file_in_the_way(tmp_path / "new" / "folder") is None
    assert main(["compile", str(ROOT / "specs" / "xor.yaml"), "-o", str(blocked)]) == EXIT_USAGE
    assert "data.csv is a file, not a folder" in capsys.readouterr().err
    # refused before any epoch, not a crash when the first checkpoint is due
    code = main(["train", str(ROOT / "specs" / "xor.yaml"), "--run", str(tmp_path / "data.csv" / "run")])
    assert code == EXIT_USAGE and "choose another --run folder" in capsys.readouterr().err
    # every verb that writes says it alike: exit 2, as a command line the user has to change
    assert main(["export", str(ROOT / "specs" / "xor.yaml"), "-o", str(blocked.with_suffix(".onnx"))]) == EXIT_USAGE
    assert "data.csv is a file, not a folder" in capsys.readouterr().err
    assert (tmp_path / "data.csv").read_text() == "a,b\n"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_real_ctrl_c_during_a_slow_write(target: Path) -> None:
    """A real SIGINT, delivered while a writer is half-way, in a separate process."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from specc.atomic import atomic_write

        def slow(tmp):
            with open(tmp, "wb") as fh:
                fh.write(b"half of it")
                fh.flush()
                print("writing", flush=True)
                time.sleep(30)
                fh.write(b"the rest")

        atomic_write({str(target)!r}, slow)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=ctrl_c_restored)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"writing"
        temps = [p for p in target.parent.iterdir() if p != target]
        assert len(temps) == 1 and temps[0].read_bytes() == b"half of it"
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.returncode not in (None, 0)
        assert b"KeyboardInterrupt" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _untouched(target)


def test_export_names_the_output_it_could_not_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # the file that failed is a temporary one beside the output: the message names the output
    import errno

    from specc.backends import direct_export

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / ".specc-tmp-123-model.onnx"))

    monkeypatch.setattr(direct_export, "save", full)
    target = tmp_path / "model.onnx"
    code = main(["export", str(ROOT / "specs" / "xor.yaml"), "-o", str(target), "--via", "direct"])
    err = capsys.readouterr().err
    assert code != 0 and f"cannot write {target}: No space left on device" in err and ".specc-tmp" not in err, err
    assert not target.exists() and "Traceback" not in err
