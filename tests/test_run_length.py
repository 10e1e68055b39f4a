"""What the run's length makes of its lr schedule and its validation split, at check: T019 (the
lr held at 0 for epochs), T020 (a warmup or ramp longer than the run), T007 for data of known size
(bundled, synthetic); the schedules' lr is PyTorch's, step by step."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc
from specc.lint.run_length import main_factor

ROOT = Path(__file__).resolve().parent.parent

SPEC = """specc: 1
inputs: {x: [B, 4]}
layers:
  - {type: Linear, out_features: 3}
loss: {type: CrossEntropyLoss}
optimizer: {type: Adam}
scheduler: SCHED
train: {epochs: EPOCHS, data: {source: iris}}
"""


def _codes(sched: str, epochs: int, code: str) -> list[specc.Diagnostic]:
    spec = specc.loads(SPEC.replace("SCHED", sched).replace("EPOCHS", str(epochs)), "s.yaml")
    assert spec.ok  # warnings: check still says ok
    return [d for d in spec.diagnostics if d.code == code]


@pytest.mark.parametrize(("sched", "epochs", "words", "fix"), [
    ("{type: LinearLR, start_factor: 1.0, end_factor: 0.0, total_iters: 5}", 20,
     "at 0 for 15 of the 20 epochs (epochs 6-20)", "total_iters: 20"),
    ("{type: CosineAnnealingLR, T_max: 5}", 20, "at 0 for 2 of the 20 epochs (epochs 6, 16)", "T_max: 20"),
    ("{type: ExponentialLR, gamma: 0.1}", 20, "for 13 of the 20 epochs (epochs 8-20)", "gamma: 0.695"),
    ("{type: StepLR, step_size: 2, gamma: 0.1}", 30, "for 16 of the 30 epochs", "step_size: 8"),
    ("{type: MultiStepLR, milestones: [2, 4, 6, 8], gamma: 0.01}", 10, "(epochs 9-10)", "gamma: 0.177"),
    # iris: 120 training samples in batches of 32 are 4 steps an epoch: 0 from step 8, epoch 3 on
    ("{type: LinearLR, start_factor: 1.0, end_factor: 0.0, total_iters: 8, interval: step}", 10,
     "at 0 for 8 of the 10 epochs (epochs 3-10)", "total_iters: 40"),
    ("{type: CosineAnnealingLR, T_max: 3, warmup: {epochs: 2}}", 6, "(epoch 6)", "T_max: 4"),
])
def test_a_schedule_at_lr_0_for_epochs_warns_with_the_count_and_the_fit(sched: str, epochs: int, words: str,
                                                                          fix: str) -> None:
    (d,) = _codes(sched, epochs, "T019")
    assert d.severity == "warning" and d.loc.line == 7 and words in d.message and fix in d.hint, d
    # the hint's value is a fit: the fixed schedule is quiet
    key = fix.split(": ")[0]
    fixed = sched.replace(f"{key}: {sched.split(key + ': ')[1].split(',')[0].split('}')[0]}", fix)
    assert _codes(fixed, epochs, "T019") == [], fixed


@pytest.mark.parametrize(("sched", "epochs", "words", "fix"), [
    ("{type: StepLR, step_size: 6, warmup: {epochs: 10}}", 10, "never reaches lr, and the StepLR never starts",
     "warmup: {epochs: 1}"),
    ("{type: CosineAnnealingLR, T_max: 500, interval: step, warmup: {steps: 1000}}", 10,
     "10 epochs of 4 steps (40 steps)", "warmup: {steps: 4}"),
    ("{type: LinearLR, start_factor: 0.1, end_factor: 1.0, total_iters: 50}", 10, "reaches 0.262 x lr",
     "total_iters: 9"),
])
def test_a_warmup_or_ramp_longer_than_the_run_warns(sched: str, epochs: int, words: str, fix: str) -> None:
    (d,) = _codes(sched, epochs, "T020")
    assert d.severity == "warning" and words in d.message and fix in d.hint, d
    assert _codes(sched, epochs, "T059") == []  # not also "runs for -N epochs"


@pytest.mark.parametrize("sched", [
    "{type: LinearLR, start_factor: 1.0, end_factor: 0.0, total_iters: 20}",
    "{type: CosineAnnealingLR, T_max: 20}", "{type: ExponentialLR, gamma: 0.9}", "{type: StepLR, step_size: 7}",
    "{type: CosineAnnealingWarmRestarts, T_0: 5}", "{type: OneCycleLR, max_lr: 0.01}",
    "{type: LinearLR, start_factor: 0.1, total_iters: 5}", "{type: CosineAnnealingLR, T_max: 15, warmup: {epochs: 5}}",
    "{type: LinearLR, end_factor: 0.0, total_iters: 500, interval: step}",
])
def test_schedules_that_fit_the_run_are_quiet(sched: str) -> None:
    assert _codes(sched, 20, "T019") == [] and _codes(sched, 20, "T020") == []


def test_no_example_spec_warns_of_its_schedules_length() -> None:
    for path in [*sorted((ROOT / "specs").glob("*.yaml")), *sorted((ROOT / "specs" / "zoo").glob("*.yaml"))]:
        assert not [d for d in specc.load(path).diagnostics if d.code in ("T019", "T020")], path


@pytest.mark.parametrize("sched", [
    "{type: StepLR, step_size: 3, gamma: 0.5}", "{type: MultiStepLR, milestones: [2, 5], gamma: 0.3}",
    "{type: ExponentialLR, gamma: 0.8}", "{type: CosineAnnealingLR, T_max: 4, eta_min: 0.0001}",
    "{type: CosineAnnealingWarmRestarts, T_0: 2, T_mult: 2, eta_min: 0.0001}",
    "{type: LinearLR, start_factor: 0.5, end_factor: 0.0, total_iters: 4}",
])
def test_the_lr_computed_without_torch_is_pytorchs(sched: str) -> None:
    torch = pytest.importorskip("torch")
    s = specc.loads(SPEC.replace("SCHED", sched).replace("EPOCHS", "12"), "s.yaml").document.scheduler
    args = s.model_dump(exclude={"type", "interval", "warmup"})
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.001)
    pt = getattr(torch.optim.lr_scheduler, s.type)(opt, **args)
    for t in range(12):
        assert main_factor(s, 0.001, t) == pytest.approx(opt.param_groups[0]["lr"] / 0.001, rel=1e-6, abs=1e-12), t
        opt.step()
        pt.step()


@pytest.mark.parametrize(("data", "words", "fix"), [
    ("{source: iris, val_split: 0.99}", "keeps 148 of the 150 samples for validation and leaves 2 to train on, "
     "fewer than the 3 classes", "val_split: 0.2"),
    ("{source: wine, val_split: 0.99}", "leaves 2 to train on, fewer than the 3 classes", "val_split: 0.2"),
])
def test_too_few_to_train_is_found_by_check_where_the_data_size_is_known(data: str, words: str, fix: str) -> None:
    text = SPEC.replace("scheduler: SCHED\n", "").replace("{source: iris}", data).replace("EPOCHS", "2")
    if "wine" in data:
        text = text.replace("[B, 4]", "[B, 13]")
    spec = specc.loads(text, "s.yaml")
    (d,) = [d for d in spec.diagnostics if d.code == "T007"]
    assert not spec.ok and d.loc.line == 7 and words in d.message and fix in d.hint, d
    split = float(data.split("val_split: ")[1].rstrip("}"))
    fitting = specc.loads(text.replace(str(split), "0.2"), "s.yaml")
    assert fitting.ok
    pytest.importorskip("sklearn")
    from specc.data.checks import training_data
    from specc.data.read import DataError
    from specc.validate.train_config import train_config

    with pytest.raises(DataError) as found:  # what training finds, in the same words, at the same key
        cfg = train_config(fitting)
        training_data({**cfg, "train": {**cfg["train"], "data": {**cfg["train"]["data"], "val_split": split}}},
                      ROOT, 0)
    assert (found.value.code, found.value.message, found.value.hint, found.value.where) == \
        ("T007", d.message, d.hint, "val_split")


def test_synthetic_labels_are_no_classes_to_cover() -> None:
    """Random labels over ResNet's 1000 classes on 512 samples: a smoke test, not T007, at check and
    at train alike (a draw's count of distinct labels would pass or fail it by the seed)."""
    pytest.importorskip("numpy")
    from specc.data.checks import training_data
    from specc.validate.train_config import train_config

    text = SPEC.replace("scheduler: SCHED\n", "").replace("out_features: 3", "out_features: 1000").replace(
        "{source: iris}", "{source: synthetic, num_samples: 64, val_split: 0.5}").replace("EPOCHS", "1")
    spec = specc.loads(text, "s.yaml")
    assert spec.ok, spec.diagnostics
    _, train, val = training_data(train_config(spec), ROOT, 0)
    assert (len(train), len(val)) == (32, 32)


BATCHNORM = """specc: 1
inputs: {x: [B, 4]}
layers:
  - {type: Linear, out_features: 8}
  - {type: BatchNorm1d}
  - {type: ReLU}
  - {type: Linear, out_features: 1}
loss: {type: MSELoss}
optimizer: {type: Adam}
train: {epochs: 1, batch_size: 4, data: {source: SOURCE, val_split: 0.5}}
"""


def test_a_training_split_of_one_sample_into_batchnorm_is_refused_by_check_and_by_train(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Batches of one sample from a split of one: PyTorch stopped mid-run ("Expected more than 1 value
    per channel"), reported as a specc bug after check said ok."""
    spec = specc.loads(BATCHNORM.replace("SOURCE", "synthetic, num_samples: 2"), "s.yaml")
    (d,) = [d for d in spec.diagnostics if d.code == "T008"]
    assert not spec.ok and d.loc.line == 10 and "holds one sample" in d.message and "BatchNorm1d" in d.message
    assert specc.loads(BATCHNORM.replace("SOURCE", "synthetic, num_samples: 4"), "s.yaml").ok
    np = pytest.importorskip("numpy")
    pytest.importorskip("torch")
    from specc.cli import main

    np.savez(tmp_path / "two.npz", x=np.ones((2, 4), np.float32), y=np.ones((2, 1), np.float32))
    (tmp_path / "s.yaml").write_text(BATCHNORM.replace("SOURCE", "two.npz"))
    capsys.readouterr()
    assert main(["train", str(tmp_path / "s.yaml"), "--run", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "T008" in err and "holds one sample" in err and "internal error" not in err, err


def test_a_step_schedule_over_a_data_file_is_judged_by_train_with_the_steps_it_counts(tmp_path: Path) -> None:
    """check cannot count a data file's steps without reading it; training does, and its report says
    what check would have: 40 samples, 32 after the split, in batches of 8 are 4 steps an epoch."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(40, 4)).astype(np.float32), y=np.arange(40) % 3)
    text = SPEC.replace("SCHED", "{type: LinearLR, start_factor: 1.0, end_factor: 0.0, total_iters: 8, interval: "
                        "step}").replace("EPOCHS", "5").replace("{source: iris}", "{source: d.npz}, batch_size: 8")
    (tmp_path / "s.yaml").write_text(text)
    assert not [d for d in specc.load(tmp_path / "s.yaml").diagnostics if d.code == "T019"]
    result = specc.train(tmp_path / "s.yaml")
    (note,) = [n for n in result.report["notes"] if "(T019)" in n]
    assert "at 0 for 3 of the 5 epochs (epochs 3-5)" in note and "total_iters: 20" in note, note
    assert [r["lr"] for r in result.history][2:] == [0.0, 0.0, 0.0]  # what the note said


STOPPED = """specc: 1
inputs: {x: [B, 4]}
layers:
  - {type: Linear, out_features: 1}
loss: {type: MSELoss}
optimizer: {type: Adam}
train: {epochs: 2, batch_size: 8, early_stopping: {patience: 2}, data: {source: SOURCE}}
"""


def test_a_val_split_that_keeps_no_sample_for_early_stopping_is_v020_at_check_and_at_train(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """int(4 x 0.2) is 0: early stopping watched nothing, and training stopped with "early stopping
    monitors val_loss, which a regression run does not compute; monitor val_loss" after check said ok."""
    spec = specc.loads(STOPPED.replace("SOURCE", "synthetic, num_samples: 4"), "s.yaml")
    (d,) = [d for d in spec.diagnostics if d.code == "V020"]
    assert "keeps none for validation (int(4 x 0.2) is 0)" in d.message and "val_split: 0.25" in d.hint
    fixed = STOPPED.replace("SOURCE", "synthetic, num_samples: 4, val_split: 0.25")
    assert specc.loads(fixed, "s.yaml").ok
    np = pytest.importorskip("numpy")
    pytest.importorskip("torch")
    from specc.cli import main

    np.savez(tmp_path / "four.npz", x=np.ones((4, 4), np.float32), y=np.ones((4, 1), np.float32))
    (tmp_path / "s.yaml").write_text(STOPPED.replace("SOURCE", "four.npz"))
    found = [d for d in specc.load(tmp_path / "s.yaml").diagnostics if d.code == "V020"]
    assert [x.message for x in found] == [d.message]  # check reads the file and says the same
    capsys.readouterr()
    assert main(["train", str(tmp_path / "s.yaml"), "--run", str(tmp_path / "run")]) == 1
    assert "V020" in capsys.readouterr().err


def test_early_stopping_on_the_auc_of_validation_data_of_one_class_is_v020(tmp_path: Path) -> None:
    """The AUC of one class is undefined: early stopping counted every epoch as no improvement and
    stopped after patience epochs, with a note after the run."""
    np = pytest.importorskip("numpy")
    x = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    np.savez(tmp_path / "train.npz", x=x, y=(np.arange(20) % 2).astype(np.float32).reshape(-1, 1))
    np.savez(tmp_path / "val.npz", x=x[:6], y=np.zeros((6, 1), np.float32))
    text = STOPPED.replace("MSELoss", "BCEWithLogitsLoss").replace("{patience: 2}", "{monitor: val_roc_auc, "
                                                                   "patience: 2}")
    (tmp_path / "s.yaml").write_text(text.replace("SOURCE", "train.npz, val_source: val.npz"))
    spec = specc.load(tmp_path / "s.yaml")
    (d,) = [d for d in spec.diagnostics if d.code == "V020"]
    assert d.loc.line == 7 and "val_loss" in d.hint
    assert "6 validation samples of val_source hold one class only" in d.message
    np.savez(tmp_path / "val.npz", x=x[:6], y=(np.arange(6) % 2).astype(np.float32).reshape(-1, 1))
    assert specc.load(tmp_path / "s.yaml").ok


@pytest.mark.parametrize(("loss", "monitor", "y_val", "words"), [
    ("BCEWithLogitsLoss", "val_recall", [0.0] * 6, "hold no positive sample"),
    ("MSELoss", "val_r2", [2.5] * 6, "have targets that do not vary"),
])
def test_early_stopping_on_a_metric_validation_data_cannot_define_is_v020(
        tmp_path: Path, loss: str, monitor: str, y_val: list[float], words: str) -> None:
    """Recall without a positive sample and R² of constant targets are undefined (n/a), like the
    AUC of one class: every epoch would count as no improvement."""
    np = pytest.importorskip("numpy")
    x = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    np.savez(tmp_path / "train.npz", x=x, y=(np.arange(20) % 2).astype(np.float32).reshape(-1, 1))
    np.savez(tmp_path / "val.npz", x=x[:6], y=np.array(y_val, np.float32).reshape(-1, 1))
    text = STOPPED.replace("MSELoss", loss).replace("{patience: 2}", f"{{monitor: {monitor}, patience: 2}}")
    (tmp_path / "s.yaml").write_text(text.replace("SOURCE", "train.npz, val_source: val.npz"))
    (d,) = [d for d in specc.load(tmp_path / "s.yaml").diagnostics if d.code == "V020"]
    assert f"6 validation samples of val_source {words}" in d.message and monitor in d.message
    assert "val_loss" in d.hint
    np.savez(tmp_path / "val.npz", x=x[:6], y=(np.arange(6) % 2).astype(np.float32).reshape(-1, 1))
    assert specc.load(tmp_path / "s.yaml").ok
