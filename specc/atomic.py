"""Atomic file output: write a temp file in the target folder, then rename over the target.

A crash, an exception or Ctrl-C while writing never leaves a half-written model,
checkpoint or source file: the previous file stays untouched and the temp file goes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success it replaces ``target`` atomically.

    For writers that need a path (torch.onnx.export, safetensors.save_file)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except BaseException:  # KeyboardInterrupt too: never leave the temp file behind
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def atomic_write(target: str | os.PathLike[str], data: bytes | str | Callable[[Path], None]) -> Path:
    """Write ``data`` (bytes, text, or a callback that writes to the given temp path) atomically."""
    with atomic_path(target) as tmp:
        if callable(data):
            data(tmp)
        else:
            tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(target)
