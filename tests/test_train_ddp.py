"""`specc train` under torchrun: two CPU processes on gloo train with DistributedDataParallel,
reach the one-process result within tolerance, and only rank 0 logs and writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import specc

pytest.importorskip("torch.distributed")
pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parent.parent
SPEC = """\
    specc: 1
    name: Net
    inputs: {x: [B, 4]}
    layers:
      - {type: Linear, out_features: 32}
      - {type: ReLU}
      - {type: Linear, out_features: 3}
    loss: {type: CrossEntropyLoss}
    optimizer: {type: Adam, lr: 0.01}
    train: {epochs: 20, batch_size: 16, data: {source: iris, val_split: 0.25}}
    """


def test_two_processes_on_gloo_match_one(tmp_path: Path) -> None:
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("this torch has no gloo backend")
    (tmp_path / "iris.yaml").write_text(textwrap.dedent(SPEC))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    launched = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                                 "2", "-m", "specc", "train", "iris.yaml", "--run-dir", "two", "--format", "json"],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the one-process reference trains here while torchrun starts its two (a process of its own
        # would add a python and torch start-up and prove nothing more: `specc train` is the same call)
        single = specc.train(str(tmp_path / "iris.yaml"), str(tmp_path / "one"), log=lambda record: None).report
        out, err = launched.communicate(timeout=300)
    finally:
        if launched.poll() is None:
            launched.kill()
            launched.communicate()
    two = subprocess.CompletedProcess(launched.args, launched.returncode, out, err)
    assert two.returncode == 0, two.stderr[-3000:]
    lines = [json.loads(line) for line in two.stdout.splitlines() if line.startswith('{"')]
    epochs = [rec for rec in lines if rec.get("event") == "epoch"]
    assert [rec["epoch"] for rec in epochs] == list(range(1, 21))  # rank 0 alone logs: each epoch once
    assert two.stdout.count('"ok": true') == 1
    report = json.loads((tmp_path / "two" / "report.json").read_text())
    assert report["distributed"] == {"world_size": 2, "batch_per_process": 8}
    assert report["data"]["train_samples"] == 113  # every rank saw the whole split, in shards
    assert abs(report["final"]["val_accuracy"] - single["final"]["val_accuracy"]) <= 0.06
    assert report["final"]["val_loss"] < 0.25 and single["final"]["val_loss"] < 0.25
    history = (tmp_path / "two" / "history.csv").read_text().splitlines()
    assert len(history) == 21  # written by one process: no duplicated or interleaved rows
