"""Atomic file output: write a temp file in the target folder, then rename over the target.

A crash, an exception or Ctrl-C while writing never leaves a half-written model,
checkpoint or source file: the previous file stays untouched and the temp file goes.

SIGKILL (or a power cut) gives a process no chance to clean up, so every temp file or
folder is named ``.specc-tmp-<pid>-<random>-<target>``: hidden, recognisably specc's, and
carrying the writer's PID.  The next write to the same folder sweeps the leftovers whose
writer is gone (never another live writer's, never anything not named so).
:func:`terminate_cleanly` turns SIGTERM into the same clean unwinding as Ctrl-C.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import re
import secrets
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType

TEMP_PREFIX = ".specc-tmp-"
_TEMP_RE = re.compile(re.escape(TEMP_PREFIX) + r"(\d+)-[0-9a-f]+-")

# Every temp this process has made and not yet published or removed.  The context managers
# below remove their own; this is the backstop for the one window they cannot cover: a signal
# handled inside contextlib's __enter__ after the generator yielded, where the ``with`` never
# registers __exit__ and the generator's ``finally`` waits for garbage collection (which an
# uncaught exception's traceback can postpone past module teardown).
_LIVE: set[Path] = set()


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
    _LIVE.discard(path)


@atexit.register
def _remove_live_temps() -> None:
    with _signals_deferred():
        for path in list(_LIVE):
            _remove(path)


def make_folder(folder: Path) -> None:
    """Create ``folder`` and its parents; a file standing where a folder must be is named (mkdir
    itself says only "File exists" or "Not a directory", of the whole path)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        blocker = file_in_the_way(folder)
        if blocker is None:
            raise
        raise NotADirectoryError(exc.errno, f"{blocker} is a file, not a folder; choose a path in a folder "
                                 "or move the file away") from None


def file_in_the_way(folder: str | os.PathLike[str]) -> Path | None:
    """The file (not a folder) at ``folder`` or one of its parents, which keeps it from being made."""
    folder = Path(folder)
    return next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success it replaces ``target`` atomically.

    For writers that need a path (torch.onnx.export, safetensors.save_file)."""
    target = Path(target)
    make_folder(target.parent)
    sweep(target.parent)
    made: list[Path] = []
    try:
        tmp_path = _temp_beside(target, made)
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        with _signals_deferred():
            os.replace(tmp_path, target)
            _LIVE.discard(tmp_path)
    except BaseException:  # KeyboardInterrupt too: never leave the temp file behind
        with _signals_deferred():
            for tmp in made:
                _remove(tmp)
        raise


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while a temp is created and recorded, so that the exception
    they raise never falls between the two (where no handler would know to remove the temp)."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        # Read the mask without changing it first: Python runs pending handlers inside every
        # pthread_sigmask call, and one raising in the blocking call must still find it restored.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    except (AttributeError, OSError, ValueError):  # no pthread_sigmask (Windows)
        yield
        return
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def temp_name(name: str) -> str:
    """A hidden name for a temp file or folder of ``name``, which :func:`sweep` can recognise."""
    return f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}-{name}"


def _temp_beside(target: Path, made: list[Path]) -> Path:
    """A new empty file beside ``target`` (appended to ``made`` as soon as it exists) with the
    permissions the result should have: those of the file it replaces, else what a plain
    ``open()`` gives (the umask applies), not ``mkstemp``'s owner-only 0600."""
    existing = stat.S_IMODE(target.stat().st_mode) if target.is_file() else None
    while True:
        tmp = target.parent / temp_name(target.name)
        try:
            with _signals_deferred():
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                made.append(tmp)
                _LIVE.add(tmp)
        except FileExistsError:
            continue
        os.close(fd)
        if existing is not None:
            os.chmod(tmp, existing)
        return tmp


@contextlib.contextmanager
def temp_dir(folder: str | os.PathLike[str], name: str) -> Iterator[Path]:
    """A hidden work folder inside ``folder`` (swept like a temp file), removed on the way out."""
    folder = Path(folder)
    make_folder(folder)
    sweep(folder)
    made: list[Path] = []
    try:
        with _signals_deferred():
            made.append(Path(tempfile.mkdtemp(prefix=temp_name(name) + ".", dir=folder)))
            _LIVE.add(made[0])
        yield made[0]
    finally:
        with _signals_deferred():  # a signal now must not cut the removal short
            for work in made:
                _remove(work)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process (or we cannot tell): leave its files alone
    return True


def sweep(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temp files and folders a killed specc writer left in ``folder``: only names
    specc gives its temps, and only when the writing process is gone. Returns what went."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_RE.match(entry.name)
        if m is None or _alive(int(m.group(1))):
            continue
        path = Path(entry.path)
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


def atomic_write(target: str | os.PathLike[str], data: bytes | str | Callable[[Path], None]) -> Path:
    """Write ``data`` (bytes, text, or a callback that writes to the given temp path) atomically."""
    with atomic_path(target) as tmp:
        if callable(data):
            data(tmp)
        else:
            tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(target)


def move_into(src: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Publish the finished file ``src`` as ``target`` atomically, by a rename where both are on
    one filesystem (a temp folder beside ``target``: no copy of a large model), else by a copy:
    its data is synced first, and it takes the permissions of the file it replaces."""
    src, target = Path(src), Path(target)
    with open(src, "rb+") as fh:
        os.fsync(fh.fileno())
    if target.is_file():
        os.chmod(src, stat.S_IMODE(target.stat().st_mode))
    try:
        with _signals_deferred():
            os.replace(src, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        atomic_write(target, lambda tmp: shutil.copyfile(src, tmp))
    return target


@contextlib.contextmanager
def syncing(paths: Iterable[str | os.PathLike[str]]) -> Iterator[None]:
    """Write the data of the finished files ``paths`` to disk on a second thread while the body
    runs (a verification, say), so that :func:`move_into`'s fsync finds them synced: the disk's
    ~30 ms for a 45 MB model are then spent beside other work instead of after it.  A failure
    here is left for that fsync to raise."""
    def sync(files: list[str | os.PathLike[str]]) -> None:
        for path in files:
            with contextlib.suppress(OSError), open(path, "rb+") as fh:
                os.fsync(fh.fileno())

    thread = threading.Thread(target=sync, args=(list(paths),), name="specc-fsync", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is so that every writer unwinds (and removes its temp
    files) exactly as after Ctrl-C."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Once is enough: a second SIGTERM during the clean-up must not cut the clean-up short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


def terminate_cleanly() -> None:
    """Make SIGTERM unwind like Ctrl-C (main thread only; a no-op elsewhere)."""
    with contextlib.suppress(ValueError, AttributeError):  # not the main thread; no SIGTERM (Windows)
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
