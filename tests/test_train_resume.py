"""Kill a `specc train` with SIGKILL in the middle of an epoch, resume it, and get the very
weights of a run never interrupted: bit for bit, on CPU."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
safetensors_torch = pytest.importorskip("safetensors.torch")

from cli_run import ctrl_c_restored  # noqa: E402

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
    scheduler: {type: StepLR, step_size: 1, gamma: 0.5}
    train: {epochs: 2, batch_size: 32, data: {source: digits, val_split: 0.2}}
    """


def train(*args: str, cwd: Path, signal_at: str | None = None) -> subprocess.Popen[str]:
    # One intra-op thread: bit-identity is promised for the same thread setup, and three runs share
    # this machine's cores, where OpenMP may hand a process fewer threads and split reductions otherwise.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "OMP_NUM_THREADS": "1"}
    if signal_at:  # the loop sends itself this signal after that batch (a real SIGKILL / Ctrl-C, no timing race)
        env["SPECC_TRAIN_SIGNAL_AT"] = signal_at
    return subprocess.Popen([sys.executable, "-m", "specc", "train", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=ctrl_c_restored)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """This process trains as the children do, on one intra-op thread (see train())."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def test_sigkill_or_ctrl_c_mid_epoch_then_resume_is_bit_identical(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from specc.cli import main

    (tmp_path / "mlp.yaml").write_text(textwrap.dedent(SPEC))
    killed = train("mlp.yaml", "--run", "killed", cwd=tmp_path, signal_at="KILL@2:20")  # epoch 2 of 2, batch 20 of 45
    interrupted = train("mlp.yaml", "--run", "interrupted", cwd=tmp_path, signal_at="INT@2:20")
    try:
        # the run never interrupted, and the resumes, train in this process: only the kill and the Ctrl-C
        # need a process of their own (a resume reads nothing but the run folder; each child would add
        # a python, torch, scikit-learn and matplotlib start-up)
        with one_thread():
            assert main(["train", str(tmp_path / "mlp.yaml"), "--run", str(tmp_path / "whole")]) == 0, \
                capsys.readouterr().err
        killed.communicate(timeout=240)
        _, err = interrupted.communicate(timeout=240)
    finally:
        for child in (killed, interrupted):
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert killed.returncode == -signal.SIGKILL
    assert interrupted.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    for run in ("killed", "interrupted"):
        assert os.readlink(tmp_path / run / "last").endswith("e0001")  # epoch 1's checkpoint, no later one
        assert (tmp_path / run / "history.csv").read_text().count("\n") == 2  # the header and epoch 1
    assert not list((tmp_path / "interrupted").rglob("*.tmp"))  # Ctrl-C leaves no temp files
    a = safetensors_torch.load_file(str(tmp_path / "whole" / "model.safetensors"))
    expected = [line.split(",")[:3] for line in (tmp_path / "whole" / "history.csv").read_text().splitlines()]
    for run in ("killed", "interrupted"):
        with one_thread():
            assert main(["train", "--resume", str(tmp_path / run)]) == 0, capsys.readouterr().err
        b = safetensors_torch.load_file(str(tmp_path / run / "model.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), run
        history = [line.split(",")[:3] for line in (tmp_path / run / "history.csv").read_text().splitlines()]
        assert history == expected, run
        assert not list((tmp_path / run).rglob("*.tmp"))  # a killed write is swept on resume


def test_training_twice_into_one_run_folder_is_a_usage_error(tmp_path: Path) -> None:
    from specc.cli import main

    (tmp_path / "mlp.yaml").write_text(textwrap.dedent(SPEC).replace("epochs: 2", "epochs: 1"))
    run = str(tmp_path / "run")
    assert main(["train", str(tmp_path / "mlp.yaml"), "--run", run]) == 0
    before = (tmp_path / "run" / "model.safetensors").read_bytes()
    assert main(["train", str(tmp_path / "mlp.yaml"), "--run", run]) == 2
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before  # the first run is untouched


STEPPED = """\
    specc: 1
    name: Net
    inputs: {x: [B, 4]}
    layers:
      - {type: Linear, out_features: 16}
      - {type: ReLU}
      - {type: Dropout, p: 0.2}
      - {type: Linear, out_features: 3}
    loss: {type: CrossEntropyLoss}
    optimizer: {type: SGD, lr: 0.05, momentum: 0.9}
    scheduler: {type: StepLR, step_size: 1, gamma: 0.5}
    train:
      epochs: 3
      batch_size: 16
      accumulate: 2
      data: {source: iris, val_split: 0.2}
      early_stopping: {monitor: val_loss, patience: 3}
    """


def test_max_steps_inside_an_epoch_resumes_that_epoch_where_it_stopped(tmp_path: Path) -> None:
    """Lightning's max_steps: the checkpoint knows the batch it stopped at; resumed, the rest of that
    epoch trains in the same order, and the run ends as one never stopped (iris: 120 samples in
    batches of 16, two batches a step, so 4 steps an epoch; --max-steps 6 stops epoch 2 at batch 4)."""
    import json

    import specc
    from specc.cli import main

    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent(STEPPED))
    whole = specc.train(path, tmp_path / "whole")
    assert main(["train", str(path), "--run", str(tmp_path / "part"), "--max-steps", "6"]) == 0
    meta = json.loads((tmp_path / "part" / "last" / "state.json").read_text())
    assert meta["epoch"] == 1 and meta["partial"]["batch"] == 4 and meta["step"] == 6
    report = json.loads((tmp_path / "part" / "report.json").read_text())
    assert any("stopped epoch 2 after 4 of its 8 batches" in n for n in report["notes"]), report["notes"]
    # resumed with the same --max-steps, the run already has its 6 steps: nothing more trains
    assert main(["train", "--resume", str(tmp_path / "part"), "--max-steps", "6"]) == 0
    assert json.loads((tmp_path / "part" / "last" / "state.json").read_text())["step"] == 6
    again = specc.train(path, tmp_path / "part", resume=True)
    assert [r["loss"] for r in again.history] == [r["loss"] for r in whole.history]
    a, b = whole.model.state_dict(), again.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["lr"] for r in again.history] == [r["lr"] for r in whole.history]
    assert again.report["best_epoch"] == whole.report["best_epoch"]


def test_a_plateau_scheduler_stopped_before_its_first_step_resumes(tmp_path: Path) -> None:
    """ReduceLROnPlateau's best is inf until its first step; the checkpoint wrote it as JSON null,
    and a run stopped inside its first epoch failed on resume (None * float inside PyTorch). Found
    by tests/test_promise_fuzz.py's training share."""
    import specc
    from specc.cli import main

    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent(STEPPED).replace("{type: StepLR, step_size: 1, gamma: 0.5}",
                                                     "{type: ReduceLROnPlateau, patience: 0, factor: 0.5}"))
    whole = specc.train(path, tmp_path / "whole")
    assert main(["train", str(path), "--run", str(tmp_path / "part"), "--max-steps", "2"]) == 0
    again = specc.train(path, tmp_path / "part", resume=True)
    assert [r["loss"] for r in again.history] == [r["loss"] for r in whole.history]
    assert [r["lr"] for r in again.history] == [r["lr"] for r in whole.history]


def test_a_kill_between_the_best_and_last_links_resumes_to_the_same_best_weights(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An improving epoch points two links at its checkpoint. Killed between them, the run must not
    resume believing that epoch best while `best` still holds an older one (the final weights, which
    restore_best reads from `best`, would be that older epoch's)."""
    import specc
    from specc.backends.train import run as run_mod

    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent(STEPPED))
    whole = specc.train(path, tmp_path / "whole")
    last = len(whole.history)
    assert whole.report["best_epoch"] == last  # the kill below falls on the best epoch's links
    point, calls = run_mod.point, []

    def killed_after_one_link(link: Path, target: Path) -> None:
        calls.append(target.name)
        point(link, target)
        if calls.count(f"e{last:04d}") == 1:
            raise KeyboardInterrupt  # as SIGKILL would, between the two links

    monkeypatch.setattr(run_mod, "point", killed_after_one_link)
    with pytest.raises(KeyboardInterrupt):
        specc.train(path, tmp_path / "part")
    monkeypatch.setattr(run_mod, "point", point)
    resumed = specc.train(path, tmp_path / "part", resume=True)
    assert resumed.report["best_epoch"] == whole.report["best_epoch"]
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_an_epoch_written_again_never_leaves_last_naming_nothing(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """An epoch's checkpoint written a second time (the rest of an epoch --max-steps cut, or an epoch
    a resume re-ran) goes to a folder of its own: a kill as it is renamed into place leaves `last`
    on the first, whole, and the links then move to the second, the first pruned."""
    import torch

    from specc.backends.train import run as run_mod

    run = tmp_path / "run"
    run.mkdir()
    weights = {"w": torch.zeros(2)}
    run_mod.write_checkpoint(run, 1, weights, {}, {"epoch": 1}, ("best", "last"))
    real = os.replace

    def killed(src: object, dst: object) -> None:
        if Path(str(dst)).parent.name == "checkpoints":
            raise KeyboardInterrupt  # the kill, as the new checkpoint is renamed into place
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(run_mod.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        run_mod.write_checkpoint(run, 1, {"w": torch.ones(2)}, {}, {"epoch": 1}, ("last",))
    monkeypatch.setattr(run_mod.os, "replace", real)
    assert torch.equal(run_mod.load_tensors(run / "last" / "model.safetensors")["w"], torch.zeros(2))
    run_mod.sweep(run)
    final = run_mod.write_checkpoint(run, 1, {"w": torch.ones(2)}, {}, {"epoch": 1}, ("best", "last"))
    assert (run / "last").resolve() == (run / "best").resolve() == final.resolve()
    assert torch.equal(run_mod.load_tensors(run / "last" / "model.safetensors")["w"], torch.ones(2))
    assert [p.name for p in (run / "checkpoints").iterdir()] == [final.name]  # the first one pruned
