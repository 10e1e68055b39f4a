"""Kill a `specc train` with SIGKILL in the middle of an epoch, resume it, and get the very
weights of a run never interrupted: bit for bit, on CPU."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
safetensors_torch = pytest.importorskip("safetensors.torch")

SPEC = """\
    specc: 1
    name: DigitsMLP
    inputs: {x: [B, 64]}
    layers:
      - {type: Linear, out_features: 64}
      - {type: ReLU}
      - {type: Dropout, p: 0.3}           # draws from torch's RNG every step
      - {type: Linear, out_features: 10}
    loss: {type: CrossEntropyLoss}
    optimizer: {type: AdamW, lr: 0.003}
    scheduler: {type: StepLR, step_size: 2, gamma: 0.5}
    train: {epochs: 3, batch_size: 16, data: {source: digits, val_split: 0.2}}
    """


def train(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.Popen([sys.executable, "-m", "specc", "train", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path: Path) -> None:
    (tmp_path / "mlp.yaml").write_text(textwrap.dedent(SPEC))
    whole = train("mlp.yaml", "--run", "whole", cwd=tmp_path)
    killed = train("mlp.yaml", "--run", "killed", cwd=tmp_path)
    link = tmp_path / "killed" / "last"
    deadline = time.monotonic() + 240
    while not (link.is_symlink() and os.readlink(link).endswith("e0001")):
        assert killed.poll() is None, killed.communicate()
        assert time.monotonic() < deadline, "the run never finished epoch 1"
        time.sleep(0.01)
    time.sleep(0.02)  # into epoch 2 (an epoch is 90 steps)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    done = (tmp_path / "killed" / "history.csv").read_text().count("\n") - 1
    assert done < 3, "killed too late: the run had finished"
    _, err = whole.communicate(timeout=240)
    assert whole.returncode == 0, err
    resumed = train("--resume", "killed", cwd=tmp_path)
    _, err = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, err
    a = safetensors_torch.load_file(str(tmp_path / "whole" / "model.safetensors"))
    b = safetensors_torch.load_file(str(tmp_path / "killed" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    history = [line.split(",")[:3] for line in (tmp_path / "killed" / "history.csv").read_text().splitlines()]
    assert history == [line.split(",")[:3] for line in (tmp_path / "whole" / "history.csv").read_text().splitlines()]
    assert not list((tmp_path / "killed").rglob("*.tmp"))  # the killed write was swept on resume
