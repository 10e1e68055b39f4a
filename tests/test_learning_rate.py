"""T058: an optimizer's lr far outside what it trains with is a warning at its line (training runs,
uselessly); the values real recipes use are quiet.  T059: an lr schedule that hardly acts within the
epochs trained, likewise."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc

ROOT = Path(__file__).resolve().parents[1]
SPEC = """specc: 1
inputs: {x: [B, 4]}
layers:
  - {type: Linear, out_features: 1}
loss: {type: MSELoss}
optimizer: {type: OPT, lr: LR}
"""


def _t058(opt: str, lr: str) -> list[specc.Diagnostic]:
    spec = specc.loads(SPEC.replace("OPT", opt).replace("LR", lr), "lr.yaml")
    assert spec.ok  # a warning: check still says ok
    return [d for d in spec.diagnostics if d.code == "T058"]


@pytest.mark.parametrize(("opt", "lr"), [
    ("Adam", "1.0e-3"), ("AdamW", "3.0e-4"), ("Adam", "0.05"), ("SGD", "0.1"), ("SGD", "1.0"),
    ("RMSprop", "0.01"), ("Adadelta", "1.0"), ("Adagrad", "0.1"), ("AdamW", "1.0e-6"),
])
def test_learning_rates_recipes_use_are_quiet(opt: str, lr: str) -> None:
    assert _t058(opt, lr) == []


def test_a_lost_minus_sign_is_named_with_the_value_meant() -> None:
    (d,) = _t058("AdamW", "1000")
    assert d.severity == "warning" and (d.loc.line, d.loc.col) == (6, 30)
    assert "1,000,000 times PyTorch's default 0.001" in d.message
    assert "lr: 1000 reads like 1.0e-3 with its minus sign lost" in d.hint


@pytest.mark.parametrize(("opt", "lr", "words"), [
    ("Adam", "0.5", "times PyTorch's default"), ("SGD", "50", "times PyTorch's default"),
    ("Adam", "1.0e-12", "barely move"),
])
def test_far_off_learning_rates_warn(opt: str, lr: str, words: str) -> None:
    (d,) = _t058(opt, lr)
    assert words in d.message and d.hint.startswith("use an lr near")


def test_no_example_spec_warns() -> None:
    for path in [*sorted((ROOT / "specs").glob("*.yaml")), *sorted((ROOT / "specs" / "zoo").glob("*.yaml"))]:
        assert not [d for d in specc.load(path).diagnostics if d.code == "T058"], path


# -- T059: a schedule that hardly acts within the epochs trained ------------------------------------------------

SCHEDULED = """specc: 1
inputs: {x: [B, 4]}
layers:
  - {type: Linear, out_features: 1}
loss: {type: MSELoss}
optimizer: {type: Adam}
scheduler: SCHED
train: {epochs: 10, data: {source: synthetic}}
"""


def _t059(sched: str) -> list[specc.Diagnostic]:
    spec = specc.loads(SCHEDULED.replace("SCHED", sched), "s.yaml")
    assert spec.ok
    return [d for d in spec.diagnostics if d.code == "T059"]


@pytest.mark.parametrize(("sched", "words", "fix"), [
    ("{type: StepLR, step_size: 50}", "after 50 epochs, but it runs for 10 epochs: the lr never changes",
     "step_size: 3"),
    ("{type: MultiStepLR, milestones: [10, 20]}", "first milestone is epoch 10", "within the epochs trained"),
    ("{type: CosineAnnealingLR, T_max: 1000}", "fallen only 0.02% of the way", "T_max: 10"),
    ("{type: StepLR, step_size: 6, warmup: {epochs: 5}}", "runs for 5 epochs after the 5 of warmup", "step_size: 1"),
])
def test_schedules_that_never_act_warn_at_their_key(sched: str, words: str, fix: str) -> None:
    (d,) = _t059(sched)
    assert d.severity == "warning" and d.loc.line == 7 and words in d.message and fix in d.hint, d


@pytest.mark.parametrize("sched", [
    "{type: StepLR, step_size: 3}", "{type: MultiStepLR, milestones: [5, 8]}", "{type: CosineAnnealingLR, T_max: 10}",
    "{type: StepLR, step_size: 500, interval: step}", "{type: ExponentialLR, gamma: 0.9}",
])
def test_schedules_that_act_are_quiet(sched: str) -> None:
    assert _t059(sched) == []


def test_no_example_spec_has_an_idle_schedule() -> None:
    for path in [*sorted((ROOT / "specs").glob("*.yaml")), *sorted((ROOT / "specs" / "zoo").glob("*.yaml"))]:
        assert not [d for d in specc.load(path).diagnostics if d.code == "T059"], path
