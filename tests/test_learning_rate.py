"""T058: an optimizer's lr far outside what it trains with is a warning at its line (training runs,
uselessly); the values real recipes use are quiet.  T059: an lr schedule that hardly acts within the
epochs trained, likewise.  T010 and V066: a weight_decay that collapses the weights, or that is
AdamW's decoupled scale given to Adam's coupled L2."""

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
    ("SGD", "10", "times PyTorch's default"),  # diverged on digits: val_loss 497 after one epoch
    ("Adam", "1.0e-12", "barely move"),
    ("Adam", "0.1", "100 times PyTorch's default"),  # SGD's lr on Adam: a digits MLP stayed at 29% accuracy
])
def test_far_off_learning_rates_warn(opt: str, lr: str, words: str) -> None:
    (d,) = _t058(opt, lr)
    assert words in d.message and d.hint.startswith("use an lr near")


# PyTorch's examples/word_language_model: an LSTM language model on WikiText-2 (33,278 tokens,
# emsize and nhid 200, 2 layers) trained with plain SGD at lr 20, its gradients clipped to norm 0.25
WORD_LM = """specc: 1
inputs: {tokens: {shape: [B, T], dtype: int64}}
layers:
  - {type: Embedding, num_embeddings: 33278, embedding_dim: 200}
  - {type: Dropout, p: 0.2}
  - {type: LSTM, hidden_size: 200, num_layers: 2, dropout: 0.2}
  - {type: Dropout, p: 0.2}
  - {type: Linear, out_features: 33278}
loss: {type: CrossEntropyLoss, class_dim: -1}
optimizer: {type: SGD, lr: 20}
train: {epochs: 40, batch_size: 20, grad_clip: 0.25}
"""
DIGITS_MLP = """specc: 1
inputs: {image: [B, 1, 8, 8]}
layers:
  - {type: Flatten}
  - {type: Linear, out_features: 64}
  - {type: ReLU}
  - {type: Linear, out_features: 64}
  - {type: ReLU}
  - {type: Linear, out_features: 10}
loss: {type: CrossEntropyLoss}
optimizer: {type: SGD, lr: LR}
train: {epochs: 8, batch_size: 32, grad_clip: CLIP, data: {source: digits}}
"""


def test_gradient_clipping_bounds_sgds_step_so_the_word_language_model_recipe_is_quiet() -> None:
    spec = specc.loads(WORD_LM, "lm.yaml")
    assert spec.ok and not [d for d in spec.diagnostics if d.code == "T058"]
    unclipped = specc.loads(WORD_LM.replace(", grad_clip: 0.25", ""), "lm.yaml")
    (d,) = [d for d in unclipped.diagnostics if d.code == "T058"]
    assert "times PyTorch's default" in d.message


@pytest.mark.parametrize(("lr", "clip", "warns"), [
    # measured on digits, 8 epochs: lr 2 reached 95% accuracy; lr 5 and lr 20 stayed at 10% (chance)
    ("2", "0.25", False), ("5", "0.25", True), ("20", "0.25", True),
    ("20", "5", True),  # a clip far above the gradients' norm bounds nothing
    ("1", "100", False),  # an lr SGD trains with is never made suspect by its clip
])
def test_a_clipped_step_too_large_for_the_model_still_warns(lr: str, clip: str, warns: bool) -> None:
    spec = specc.loads(DIGITS_MLP.replace("LR", lr).replace("CLIP", clip), "mlp.yaml")
    found = [d for d in spec.diagnostics if d.code == "T058"]
    assert spec.ok and bool(found) == warns
    if warns and float(lr) * float(clip) < 10:
        assert f"grad_clip: {clip}" in found[0].message and "8,970 weights" in found[0].message
        assert found[0].hint.startswith("use an lr below about")


def test_momentum_lengthens_the_clipped_step() -> None:
    text = DIGITS_MLP.replace("LR", "5").replace("CLIP", "0.1")
    assert not [d for d in specc.loads(text, "m.yaml").diagnostics if d.code == "T058"]
    heavy = text.replace("lr: 5}", "lr: 5, momentum: 0.9}")
    assert [d for d in specc.loads(heavy, "m.yaml").diagnostics if d.code == "T058"]


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
    # T_max in epochs, stepped per batch: on digits the lr swung 0.03, 0.01, 0.09, 0.07, 0 at the epochs' ends
    ("{type: CosineAnnealingLR, T_max: 10, interval: step}", "climbs back to lr every 20", "use interval: epoch"),
    # PyTorch's default patience, 10, outlasts a 10-epoch run: 11 epochs without improvement come first
    ("{type: ReduceLROnPlateau}", "after 11 epochs without improvement (patience: 10), but it runs for 10 epochs",
     "patience: 2"),
])
def test_schedules_that_never_act_warn_at_their_key(sched: str, words: str, fix: str) -> None:
    (d,) = _t059(sched)
    assert d.severity == "warning" and d.loc.line == 7 and words in d.message and fix in d.hint, d


@pytest.mark.parametrize("sched", [
    "{type: StepLR, step_size: 3}", "{type: MultiStepLR, milestones: [5, 8]}", "{type: CosineAnnealingLR, T_max: 10}",
    "{type: StepLR, step_size: 500, interval: step}", "{type: ExponentialLR, gamma: 0.9}",
    "{type: CosineAnnealingLR, T_max: 2000, interval: step}", "{type: ReduceLROnPlateau, patience: 3}",
])
def test_schedules_that_act_are_quiet(sched: str) -> None:
    assert _t059(sched) == []


@pytest.mark.parametrize(("stopping", "warns"), [
    ("{patience: 5}", True), ("{patience: 11}", False), ("{monitor: val_accuracy, patience: 5}", False),
])
def test_early_stopping_that_ends_the_run_before_the_plateau_acts(stopping: str, warns: bool) -> None:
    # Keras' EarlyStopping(patience=5) beside ReduceLROnPlateau(patience=10): the run stops first
    spec = SCHEDULED.replace("SCHED", "{type: ReduceLROnPlateau, patience: 10}").replace(
        "epochs: 10,", f"epochs: 100, early_stopping: {stopping},")
    found = [d for d in specc.loads(spec, "s.yaml").diagnostics if d.code == "T059"]
    assert [("early stopping ends the run after" in d.message, d.loc.line) for d in found] == ([(True, 7)] if warns
                                                                                                else [])


def test_no_example_spec_has_an_idle_schedule() -> None:
    for path in [*sorted((ROOT / "specs").glob("*.yaml")), *sorted((ROOT / "specs" / "zoo").glob("*.yaml"))]:
        assert not [d for d in specc.load(path).diagnostics if d.code == "T059"], path


# -- T010: a weight_decay that pulls every weight to zero ----------------------------------------------------------

def _t010(opt: str, decay: str) -> list[specc.Diagnostic]:
    spec = specc.loads(SPEC.replace("OPT", opt).replace("lr: LR", f"weight_decay: {decay}"), "wd.yaml")
    assert spec.ok  # a warning: check still says ok
    return [d for d in spec.diagnostics if d.code == "T010"]


@pytest.mark.parametrize(("opt", "decay"), [
    ("SGD", "5.0e-4"), ("SGD", "0.1"), ("Adam", "1.0e-4"), ("AdamW", "0.05"), ("AdamW", "0.3"), ("AdamW", "1"),
    ("RMSprop", "1.0e-5"), ("Adafactor", "0.5"),
])
def test_weight_decays_recipes_use_are_quiet(opt: str, decay: str) -> None:
    assert _t010(opt, decay) == []


@pytest.mark.parametrize(("opt", "decay", "fix"), [
    ("SGD", "5", "weight_decay: 0.0005"), ("Adam", "0.5", "weight_decay: 0.0001"), ("NAdam", "1", "AdamW"),
    ("AdamW", "5", "weight_decay: 0.01"), ("Adafactor", "10", "weight_decay: 0.01"),
])
def test_a_weight_decay_that_collapses_the_weights_warns_at_its_value(opt: str, decay: str, fix: str) -> None:
    (d,) = _t010(opt, decay)
    line = SPEC.splitlines()[5].replace("OPT", opt).replace("lr: LR", f"weight_decay: {decay}")
    assert d.severity == "warning" and (d.loc.line, d.loc.col) == (6, line.index(decay) + 1)
    assert fix in d.hint and f"weight_decay: {decay}" in d.message


def test_no_example_spec_warns_of_its_weight_decay() -> None:
    for path in [*sorted((ROOT / "specs").glob("*.yaml")), *sorted((ROOT / "specs" / "zoo").glob("*.yaml"))]:
        assert not [d for d in specc.load(path).diagnostics if d.code == "T010"], path


def test_the_coupled_threshold_is_where_training_collapses() -> None:
    """The warning's premise, measured: SGD on digits answers one class for every sample at 3x the
    threshold, and learns with the value the hint gives."""
    import torch
    from sklearn.datasets import load_digits

    from specc.lint.training import COUPLED_DECAY_HIGH

    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x / 16, dtype=torch.float32), torch.tensor(y)

    def accuracy(decay: float) -> float:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
        opt = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=decay)
        for _ in range(5):
            for i in range(0, 1400, 32):
                loss = torch.nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            return (model(x[1400:]).argmax(1) == y[1400:]).float().mean().item()

    assert accuracy(3 * COUPLED_DECAY_HIGH) < 0.2 < 0.8 < accuracy(5e-4)


# -- V066: Adam given the weight_decay of AdamW's decoupled decay ---------------------------------------------------

def _v066(opt: str, decay: str) -> list[specc.Diagnostic]:
    spec = specc.loads(SPEC.replace("OPT", opt).replace("lr: LR", f"weight_decay: {decay}"), "wd.yaml")
    assert spec.ok  # a warning: check still says ok
    return [d for d in spec.diagnostics if d.code == "V066"]


@pytest.mark.parametrize(("opt", "decay"), [
    ("Adam", "1.0e-4"), ("Adam", "5.0e-3"), ("AdamW", "0.05"), ("AdamW", "0.1"), ("SGD", "0.05"), ("RMSprop", "0.05"),
    ("Adam", "0.5"),  # T010's: the weights collapse
])
def test_decays_that_fit_their_optimizer_are_quiet(opt: str, decay: str) -> None:
    assert _v066(opt, decay) == []


@pytest.mark.parametrize(("opt", "decay"), [("Adam", "0.01"), ("Adam", "0.05"), ("NAdam", "0.1"), ("RAdam", "0.02")])
def test_adamw_scale_decay_on_adam_warns_with_adamw(opt: str, decay: str) -> None:
    (d,) = _v066(opt, decay)
    line = SPEC.splitlines()[5].replace("OPT", opt).replace("lr: LR", f"weight_decay: {decay}")
    assert d.severity == "warning" and (d.loc.line, d.loc.col) == (6, line.index(decay) + 1)
    assert "use type: AdamW" in d.hint and f"weight_decay: {decay}" in d.message
    fixed = specc.loads(SPEC.replace("OPT", "AdamW").replace("lr: LR", f"weight_decay: {decay}"), "wd.yaml")
    assert fixed.ok and not [x for x in fixed.diagnostics if x.code in ("V066", "T010")]


def test_no_example_spec_gives_adam_a_decoupled_decay() -> None:
    for path in [*sorted((ROOT / "specs").glob("*.yaml")), *sorted((ROOT / "specs" / "zoo").glob("*.yaml"))]:
        assert not [d for d in specc.load(path).diagnostics if d.code == "V066"], path


def test_adam_with_adamws_decay_learns_less_than_adamw() -> None:
    """The warning's premise, measured: the same weight_decay costs Adam accuracy that AdamW keeps."""
    import torch
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x / 16, dtype=torch.float32), torch.tensor(y)

    def accuracy(optimizer: type[torch.optim.Optimizer]) -> float:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
        opt = optimizer(model.parameters(), lr=3e-3, weight_decay=0.1)
        for _ in range(4):
            for i in range(0, 1400, 32):
                loss = torch.nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            return (model(x[1400:]).argmax(1) == y[1400:]).float().mean().item()

    assert accuracy(torch.optim.Adam) + 0.08 < accuracy(torch.optim.AdamW)  # 0.73 and 0.88
