"""Atomic file output: write a temp file in the target folder, then rename over the target.

A crash, an exception or Ctrl-C while writing never leaves a half-written model,
checkpoint or source file: the previous file stays untouched and the temp file goes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success it replaces ``target`` atomically.

    For writers that need a path (torch.onnx.export, safetensors.save_file)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _temp_beside(target)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except BaseException:  # KeyboardInterrupt too: never leave the temp file behind
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def _temp_beside(target: Path) -> Path:
    """A new empty file beside ``target`` with the permissions the result should have: those of
    the file it replaces, else what a plain ``open()`` gives (the umask applies), not
    ``mkstemp``'s owner-only 0600."""
    existing = stat.S_IMODE(target.stat().st_mode) if target.is_file() else None
    while True:
        tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        if existing is not None:
            os.chmod(tmp, existing)
        return tmp


def atomic_write(target: str | os.PathLike[str], data: bytes | str | Callable[[Path], None]) -> Path:
    """Write ``data`` (bytes, text, or a callback that writes to the given temp path) atomically."""
    with atomic_path(target) as tmp:
        if callable(data):
            data(tmp)
        else:
            tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(target)
