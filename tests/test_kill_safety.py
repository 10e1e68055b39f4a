"""Kill-safety of every writer: a process killed at a random moment (SIGKILL, SIGTERM, SIGINT)
leaves the old file byte-identical or the new one complete; after SIGTERM/SIGINT no temp file
is left, and after SIGKILL the leftover is hidden, named ``.specc-tmp-<pid>-…`` and swept by
the next write to that folder.

CI kills a few dozen writers; ``SPECC_KILL_EXAMPLES=200`` kills more.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_run import ctrl_c_restored

from specc.atomic import TEMP_PREFIX, atomic_write, sweep

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ROOT = Path(__file__).resolve().parents[1]
KILLS = int(os.environ.get("SPECC_KILL_EXAMPLES", "15"))
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)

# A writer that keeps replacing two files (one through atomic_write, one through a work folder
# published with atomic_write, as export does), each new version a complete, self-checking text.
WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from specc.atomic import atomic_write, temp_dir, terminate_cleanly
terminate_cleanly()
folder = Path({folder!r})
print("ready", flush=True)
n = 0
while True:
    n += 1
    body = (f"version {{n}}\\n" * 20000).encode()
    atomic_write(folder / "model.py", body + b"end\\n")
    with temp_dir(folder, "model.onnx") as work:
        (work / "raw").write_bytes(body)
        atomic_write(folder / "model.onnx", lambda tmp: tmp.write_bytes((work / "raw").read_bytes() + b"end\\n"))
"""


def _complete(path: Path) -> bool:
    data = path.read_bytes()
    lines = data.split(b"\n")
    return data.endswith(b"end\n") and len(set(lines[:-2])) == 1


def _kill_once(tmp_path: Path, sig: int, rng: random.Random) -> list[Path]:
    folder = tmp_path
    proc = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), folder=str(folder))],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=ctrl_c_restored)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:  # a writer left running would write for the rest of the suite
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for name in ("model.py", "model.onnx"):
        if (folder / name).exists():
            assert _complete(folder / name), f"{name} is partial after {signal.Signals(sig).name}"
    return [p for p in folder.iterdir() if p.name not in ("model.py", "model.onnx")]


def test_writers_killed_at_random_moments(tmp_path: Path) -> None:
    rng = random.Random(8)
    counts = {s: 0 for s in SIGNALS}
    for i in range(KILLS):
        sig = SIGNALS[i % len(SIGNALS)]
        before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
        left = _kill_once(tmp_path, sig, rng)
        counts[sig] += 1
        if sig == signal.SIGKILL:
            assert all(p.name.startswith(TEMP_PREFIX) for p in left), left
            sweep(tmp_path)  # what the next write does first
            assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []
        else:
            assert left == [], f"{signal.Signals(sig).name} left {left}"
        for name, old in before.items():
            now = tmp_path / name
            assert now.exists() and (now.read_bytes() == old or _complete(now))
    assert all(counts.values())


def test_sweep_removes_only_dead_writers_temps(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f"{TEMP_PREFIX}{dead_pid}-0123456789ab-model.py"
    stale.write_text("half")
    stale_dir = tmp_path / f"{TEMP_PREFIX}{dead_pid}-0123456789ab-model.onnx.x1"
    stale_dir.mkdir()
    (stale_dir / "raw").write_text("half")
    live = tmp_path / f"{TEMP_PREFIX}{os.getppid()}-0123456789ab-model.py"  # a live process's
    live.write_text("being written")
    mine = tmp_path / ".model.py.swp"  # not specc's
    mine.write_text("editor")
    atomic_write(tmp_path / "model.py", "x = 1\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, mine.name, "model.py"])


def test_sigterm_during_compile_leaves_no_temp(tmp_path: Path) -> None:
    """The real CLI: SIGTERM turns into a clean exit (143) that removes what it was writing."""
    target = tmp_path / "out.py"
    target.write_text("# previous\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "specc", "compile", str(ROOT / "specs" / "resnet18.yaml"),
                             "-o", str(target)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode in (0, 143, -signal.SIGTERM)  # -15: before the handler was installed
    assert [p.name for p in tmp_path.iterdir()] == ["out.py"]
    text = target.read_text()
    assert text == "# previous\n" or text.startswith("# Generated by specc")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_export_killed_midway_leaves_the_old_model_or_the_new(tmp_path: Path, sig: int) -> None:
    """The real `specc export` (work folder, verification, publish) killed while it runs."""
    pytest.importorskip("onnxruntime")
    target = tmp_path / "model.onnx"
    target.write_bytes(b"the previous model")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "specc", "export", str(ROOT / "specs" / "xor.yaml"), "-o", str(target)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.Random(sig).uniform(2.0, 4.0))  # importing torch, tracing or verifying
    proc.send_signal(sig)
    proc.wait(timeout=60)
    data = target.read_bytes()
    assert data == b"the previous model" or data.startswith(b"\x08"), "a partial model"  # ONNX: ir_version first
    left = [p for p in tmp_path.iterdir() if p != target]
    if sig == signal.SIGTERM:
        assert left == [], left
    else:
        assert all(p.name.startswith(TEMP_PREFIX) for p in left), left
        assert subprocess.run(cmd, env=env, capture_output=True, timeout=300).returncode == 0
        assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # the next write swept the leftover
