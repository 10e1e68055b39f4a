"""Every scheduler's learning rate, epoch by epoch, is what PyTorch's own scheduler gives when
stepped by hand as the docs say (per epoch, or per optimizer step); a run of 4 epochs equals 2
epochs resumed for 2 more, weights, rates and early-stopping state alike; a OneCycleLR laid out
for 2 epochs is not stepped past its end by a resume that asks for 4."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import specc  # noqa: E402
from specc.cli import main as cli  # noqa: E402

LR, EPOCHS, STEPS = 0.05, 4, 8  # iris: 120 training samples in batches of 16 are 8 steps an epoch

SPEC = """\
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
    scheduler: SCHED
    train:
      epochs: 4
      batch_size: 16
      data: {source: iris, val_split: 0.2}
      early_stopping: {monitor: val_loss, patience: 3}
    """

lrs = torch.optim.lr_scheduler
SCHEDULERS = {
    "{type: StepLR, step_size: 1, gamma: 0.5}": ("epoch", lambda o: lrs.StepLR(o, 1, 0.5)),
    "{type: CosineAnnealingLR, T_max: 3}": ("epoch", lambda o: lrs.CosineAnnealingLR(o, 3)),
    "{type: CosineAnnealingLR, T_max: 20, interval: step}": ("step", lambda o: lrs.CosineAnnealingLR(o, 20)),
    "{type: OneCycleLR, max_lr: 0.1}": ("step", lambda o: lrs.OneCycleLR(o, 0.1, epochs=EPOCHS, steps_per_epoch=STEPS)),
    "{type: ReduceLROnPlateau, mode: max, patience: 0, factor: 0.5, threshold: 0.5}":  # on val_accuracy
        ("plateau", lambda o: lrs.ReduceLROnPlateau(o, mode="max", patience=0, factor=0.5, threshold=0.5)),
    "{type: CosineAnnealingLR, T_max: 2, warmup: {epochs: 2, start_factor: 0.1}}":
        ("epoch", lambda o: lrs.SequentialLR(o, [lrs.LinearLR(o, 0.1, total_iters=2), lrs.CosineAnnealingLR(o, 2)],
                                             milestones=[2])),
    "{type: StepLR, step_size: 6, gamma: 0.5, interval: step, warmup: {steps: 5}}":
        ("step", lambda o: lrs.SequentialLR(o, [lrs.LinearLR(o, 0.1, total_iters=5), lrs.StepLR(o, 6, 0.5)],
                                            milestones=[5])),
}


def by_hand(interval: str, make, watched: list[float]) -> list[float]:
    """Each epoch's learning rate as the history records it (at the epoch's end, before an epoch
    scheduler steps), from PyTorch's scheduler stepped by hand."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR, momentum=0.9)
    sched, seen = make(opt), []
    for epoch in range(EPOCHS):
        for _ in range(STEPS):
            opt.step()
            if interval == "step":
                sched.step()
        seen.append(opt.param_groups[0]["lr"])
        if interval == "plateau":
            sched.step(watched[epoch])
        elif interval == "epoch":
            sched.step()
    return seen


@pytest.mark.parametrize("sched", list(SCHEDULERS))
def test_the_learning_rate_is_pytorchs_and_a_resumed_run_is_the_whole_one(sched: str, tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent(SPEC).replace("SCHED", sched))
    whole = specc.train(path)
    interval, make = SCHEDULERS[sched]
    expected = by_hand(interval, make, [r["val_accuracy"] for r in whole.history])
    assert [r["lr"] for r in whole.history] == pytest.approx(expected, rel=1e-6, abs=1e-12)
    if interval == "plateau":  # the test means something only if the rate did drop
        assert expected[-1] < LR
    if not any(kind in sched for kind in ("OneCycleLR", "ReduceLROnPlateau", "warmup: {steps")):
        return  # resumed below: the schedulers with the most state (a plan, a watched metric, a sequence)
    if "OneCycle" in sched:  # laid out for the epochs a run starts with: stopped after 2 of its 4 epochs' steps
        assert cli(["train", str(path), "-o", str(tmp_path / "part"), "--max-steps", str(2 * STEPS)]) == 0
        part = specc.train(path, tmp_path / "part", resume=True)
    else:  # 2 epochs, then resumed for 4 in all
        specc.train(path, tmp_path / "part", epochs=2)
        part = specc.train(path, tmp_path / "part", resume=True, epochs=EPOCHS)
    assert [r["lr"] for r in part.history] == [r["lr"] for r in whole.history]
    assert [r["loss"] for r in part.history] == pytest.approx([r["loss"] for r in whole.history], rel=1e-5)
    a, b = whole.model.state_dict(), part.model.state_dict()
    assert all(torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-7) for k in a)
    assert part.report["best_epoch"] == whole.report["best_epoch"]


def test_a_one_cycle_resumed_past_its_end_is_refused_and_the_run_still_resumes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent(SPEC).replace("SCHED", "{type: OneCycleLR, max_lr: 0.1}"))
    run = tmp_path / "run"
    assert cli(["train", str(path), "-o", str(run), "--epochs", "2"]) == 0
    capsys.readouterr()
    # PyTorch's own words were a traceback: "Tried to step 17 times. The specified number of total steps is 16"
    assert cli(["train", "--resume", str(run), "--epochs", "4"]) == 2
    err = capsys.readouterr().err
    assert "OneCycleLR was laid out for 16 steps (2 epochs)" in err and "--epochs 4" in err, err
    assert "Traceback" not in err
    result = specc.train(path, run, resume=True)  # as it was started: its 2 epochs, done
    assert len(result.history) == 2 and math.isfinite(result.history[-1]["loss"])


def test_a_resume_with_another_seed_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent(SPEC).replace("SCHED", "{type: StepLR, step_size: 1}"))
    run = tmp_path / "run"
    assert cli(["train", str(path), "-o", str(run), "--epochs", "1", "--seed", "4"]) == 0
    capsys.readouterr()
    # seed 5 would split off other validation samples, some of them trained on in epoch 1
    assert cli(["train", "--resume", str(run), "--epochs", "2", "--seed", "5"]) == 2
    err = capsys.readouterr().err
    assert "--seed 5 does not apply with --resume: the run started with seed 4" in err, err
    assert cli(["train", "--resume", str(run), "--epochs", "2", "--seed", "4"]) == 0
    assert (run / "history.csv").read_text().count("\n") == 3
