"""Mistakes people make porting from Keras and PyTorch, round 3 (helper b22): the warnings among them
(T061 swapped Adam betas, T062 KLDivLoss's mean reduction, V074 validation on the training file) at
their line with the fix, the error T060 (BCELoss under CUDA autocast) beside the variants that train,
and the correct forms of each, which must stay quiet. The errors' located messages and applied hints
are in tests/corpus/bad/, the lint rules' in tests/corpus/lint/."""

from __future__ import annotations

from pathlib import Path

import pytest

import specc

HEAD = """specc: 1
inputs: {x: [B, 20]}
layers:
  - {type: Linear, out_features: 10}
"""


def _codes(text: str, code: str, name: str = "m.yaml") -> list[specc.Diagnostic]:
    return [d for d in specc.loads(text, name).diagnostics if d.code == code]


@pytest.mark.parametrize("betas", ["[0.999, 0.9]", "[0.99, 0.9]", "[0.95, 0.9]"])
def test_t061_betas_written_the_wrong_way_round(betas: str) -> None:
    text = HEAD + "loss: {type: CrossEntropyLoss}\noptimizer: {type: Adam, lr: 1.0e-3, betas: " + betas + "}\n"
    spec = specc.loads(text, "m.yaml")
    assert spec.ok  # a warning: training runs
    (d,) = [d for d in spec.diagnostics if d.code == "T061"]
    b1, b2 = (float(v) for v in betas.strip("[]").split(","))
    assert d.severity == "warning" and (d.loc.line, d.loc.col) == (6, 44)
    assert d.hint.startswith(f"write [{b2:g}, {b1:g}]")


@pytest.mark.parametrize(("opt", "betas"), [
    ("Adam", "[0.9, 0.999]"), ("Adam", "[0.5, 0.999]"),  # DCGAN
    ("AdamW", "[0.9, 0.95]"),  # GPT-style
    ("Adam", "[0.0, 0.99]"),  # StyleGAN
    ("NAdam", "[0.9, 0.9]"),  # equal: not swapped
])
def test_t061_quiet_on_the_betas_recipes_use(opt: str, betas: str) -> None:
    text = HEAD + f"loss: {{type: CrossEntropyLoss}}\noptimizer: {{type: {opt}, lr: 1.0e-3, betas: {betas}}}\n"
    assert _codes(text, "T061") == []


def test_t062_kl_mean_is_divided_by_the_classes() -> None:
    text = HEAD + "  - {type: LogSoftmax, dim: 1}\nloss: {type: KLDivLoss, reduction: mean}\n" \
        "optimizer: {type: Adam, lr: 1.0e-3}\n"
    (d,) = _codes(text, "T062")
    assert d.severity == "warning" and (d.loc.line, d.loc.col) == (6, 36)
    assert "divided by the 10 classes" in d.message and d.hint.startswith("set reduction: batchmean")
    fixed = text.replace("reduction: mean", "reduction: batchmean")
    assert _codes(fixed, "T062") == [] and specc.loads(fixed, "m.yaml").ok


@pytest.mark.parametrize("reduction", ["batchmean", "sum"])
def test_t062_quiet_on_the_divergence_and_its_sum(reduction: str) -> None:
    text = HEAD + f"  - {{type: LogSoftmax, dim: 1}}\nloss: {{type: KLDivLoss, reduction: {reduction}}}\n"
    assert _codes(text, "T062") == []


BCE = """specc: 1
inputs: {x: [B, 20]}
layers:
  - {type: Linear, out_features: 1}
LAST
loss: {type: LOSS}
optimizer: {type: Adam, lr: 1.0e-3}
train: {epochs: 1, batch_size: 16, mixed_precision: AMP, data: {source: synthetic, num_samples: 64}}
"""


def test_t060_bce_under_autocast_and_the_forms_that_train() -> None:
    bad = BCE.replace("LAST", "  - {type: Sigmoid}").replace("LOSS", "BCELoss").replace("AMP", "true")
    (d,) = _codes(bad, "T060")
    assert d.severity == "error" and (d.loc.line, d.loc.col) == (6, 14)
    assert "remove the final Sigmoid 'sigmoid_1' and write type: BCEWithLogitsLoss" in d.hint
    logits = BCE.replace("LAST\n", "").replace("LOSS", "BCEWithLogitsLoss").replace("AMP", "true")
    fp32 = BCE.replace("LAST", "  - {type: Sigmoid}").replace("LOSS", "BCELoss").replace("AMP", "false")
    for text in (logits, fp32):
        spec = specc.loads(text, "m.yaml")
        assert spec.ok and _codes(text, "T060") == [], [str(e) for e in spec.errors]


def test_t060_per_output_loss() -> None:
    text = """specc: 1
inputs: {x: [B, 20]}
layers:
  - {type: Linear, out_features: 1, name: score}
  - {type: Sigmoid, name: prob}
  - {type: Linear, from: x, out_features: 3, name: cls}
outputs: [prob, cls]
loss:
  prob: {type: BCELoss}
  cls: {type: CrossEntropyLoss}
optimizer: {type: Adam, lr: 1.0e-3}
train: {epochs: 1, mixed_precision: true, data: {source: synthetic, num_samples: 64}}
"""
    (d,) = _codes(text, "T060")
    assert d.message.startswith("output 'prob': BCELoss under mixed_precision") and d.loc.line == 9


def _csv(path: Path) -> None:
    path.write_text("a,b,c,d,label\n" + "".join(f"{i % 5}.0,{i % 7}.0,{i % 3}.5,1.0,{i % 3}\n" for i in range(30)))


@pytest.mark.parametrize("val", ["rows.csv", "./rows.csv", "data/../rows.csv"])
def test_v074_validating_on_the_training_file(tmp_path: Path, val: str) -> None:
    _csv(tmp_path / "rows.csv")
    (tmp_path / "data").mkdir()
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text("specc: 1\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Linear, out_features: 3}\n"
                         "loss: {type: CrossEntropyLoss}\noptimizer: {type: Adam, lr: 1.0e-3}\n"
                         f"train: {{epochs: 1, data: {{source: rows.csv, val_source: {val}}}}}\n")
    spec = specc.load(spec_file)
    assert spec.ok
    (d,) = [d for d in spec.diagnostics if d.code == "V074"]
    assert d.severity == "warning" and d.loc.line == 7 and "remove val_source" in d.hint


def test_v074_quiet_on_a_held_out_file(tmp_path: Path) -> None:
    _csv(tmp_path / "rows.csv")
    _csv(tmp_path / "held_out.csv")
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text("specc: 1\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Linear, out_features: 3}\n"
                         "loss: {type: CrossEntropyLoss}\noptimizer: {type: Adam, lr: 1.0e-3}\n"
                         "train: {epochs: 1, data: {source: rows.csv, val_source: held_out.csv}}\n")
    spec = specc.load(spec_file)
    assert spec.ok and not [d for d in spec.diagnostics if d.code == "V074"]


@pytest.mark.parametrize("text", [
    # Keras' Conv1D over (steps, features) read right: the features at dim 1
    "inputs: {x: [B, 9, 128]}\nlayers:\n  - {type: Conv1d, out_channels: 8, kernel_size: 3}\n",
    # a conv's channels outnumbering a short signal deep in a net is no input layout
    "inputs: {x: [B, 16, 64]}\nlayers:\n  - {type: Conv1d, out_channels: 64, kernel_size: 3}\n"
    "  - {type: Conv1d, out_channels: 64, kernel_size: 3}\n",
    # a channels-first Reshape of a Dense, and a Permute after a channels-last one
    "inputs: {z: [B, 100]}\nlayers:\n  - {type: Linear, out_features: 6272}\n  - {type: Reshape, shape: [B, 7, 7, 128]}"
    "\n  - {type: Permute, dims: [0, 3, 1, 2]}\n  - {type: Conv2d, out_channels: 8, kernel_size: 3}\n",
    # a 3-D volume of 16 slices with 3 channels declared channels-first
    "inputs: {v: [B, 3, 16, 64, 64]}\nlayers:\n  - {type: Conv3d, out_channels: 8, kernel_size: 3}\n",
])
def test_l012_quiet_on_channels_first_layouts(text: str) -> None:
    spec = specc.loads("specc: 1\n" + text, "m.yaml")
    assert spec.ok and not [d for d in spec.diagnostics if d.code == "L012"], [str(d) for d in spec.diagnostics]


@pytest.mark.parametrize(("sched", "every"), [
    ("{type: StepLR, step_size: 10, gamma: 10}", "every 10 epochs"),
    ("{type: MultiStepLR, milestones: [10, 20], gamma: 10}", "at each milestone"),
    ("{type: ExponentialLR, gamma: 1.5}", "every epoch"),
])
def test_t063_a_gamma_above_one_grows_the_lr(sched: str, every: str) -> None:
    text = HEAD + "loss: {type: CrossEntropyLoss}\noptimizer: {type: SGD, lr: 0.01, momentum: 0.9}\n" \
        f"scheduler: {sched}\ntrain: {{epochs: 30, data: {{source: digits}}}}\n"
    text = text.replace("[B, 20]", "[B, 64]")
    spec = specc.loads(text, "m.yaml", data=False)
    assert spec.ok
    (d,) = [d for d in spec.diagnostics if d.code == "T063"]
    assert d.severity == "warning" and d.loc.line == 7 and every in d.message
    assert d.hint.startswith("use gamma: ")
    written = sched.rsplit("gamma: ", 1)[1].rstrip("}")
    fixed = text.replace(f"gamma: {written}", d.hint.split(" to ")[0].removeprefix("use "))
    assert float(d.hint.split()[2]) == pytest.approx(1 / float(written), rel=1e-2)
    assert _codes(fixed, "T063") == [] and specc.loads(fixed, "m.yaml", data=False).ok


@pytest.mark.parametrize("gamma", ["0.1", "0.95", "1"])
def test_t063_quiet_on_decay(gamma: str) -> None:
    text = HEAD + "loss: {type: CrossEntropyLoss}\noptimizer: {type: SGD, lr: 0.01, momentum: 0.9}\n" \
        f"scheduler: {{type: StepLR, step_size: 10, gamma: {gamma}}}\n"
    assert _codes(text, "T063") == []


def _windows(path: Path, shift: int = 1) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    series = np.cumsum(rng.normal(size=(400, 2)), axis=0).astype(np.float32)
    x = np.stack([series[i:i + 20] for i in range(0, 300, shift)])
    np.savez(path, x=x, y=series[20:20 + 300:shift, 0])


WINDOWS = """specc: 1
inputs: {x: [B, 20, 2]}
layers:
  - {type: GRU, hidden_size: 8, output: last}
  - {type: Linear, out_features: 1}
loss: {type: MSELoss}
optimizer: {type: Adam, lr: 1.0e-3}
train: {epochs: 1, data: {source: w.npz, val_split: 0.2DATA}}
"""


@pytest.mark.parametrize("shift", [1, 3])
def test_v075_sliding_windows_split_at_random(tmp_path: Path, shift: int) -> None:
    _windows(tmp_path / "w.npz", shift)
    (tmp_path / "s.yaml").write_text(WINDOWS.replace("DATA", ""))
    spec = specc.load(tmp_path / "s.yaml")
    assert spec.ok
    (d,) = [d for d in spec.diagnostics if d.code == "V075"]
    assert d.severity == "warning" and d.loc.line == 8 and f"each starts {shift} step" in d.message
    assert d.hint.startswith("set shuffle: false")
    (tmp_path / "s.yaml").write_text(WINDOWS.replace("DATA", ", shuffle: false"))
    assert not [d for d in specc.load(tmp_path / "s.yaml").diagnostics if d.code == "V075"]


def test_v075_quiet_on_independent_samples(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(1)
    np.savez(tmp_path / "w.npz", x=rng.normal(size=(100, 20, 2)).astype(np.float32), y=rng.normal(size=100))
    (tmp_path / "s.yaml").write_text(WINDOWS.replace("DATA", ""))
    spec = specc.load(tmp_path / "s.yaml")
    assert spec.ok and not [d for d in spec.diagnostics if d.code == "V075"]


TITANIC = """specc: 1
inputs: {x: [B, WIDTH]}
layers:
  - {type: Linear, out_features: 2}
loss: {type: CrossEntropyLoss}
optimizer: {type: Adam, lr: 1.0e-3}
train: {epochs: 1, data: {source: t.csv, target: Survived FEATURES}}
"""


@pytest.mark.parametrize("column", ["PassengerId", "customer_id", "ID"])
def test_v076_an_id_column_among_the_default_features(tmp_path: Path, column: str) -> None:
    rows = "".join(f"{i + 7},{i % 3 + 1},{(i * 37) % 80},{i % 2}\n" for i in range(40))
    (tmp_path / "t.csv").write_text(f"{column},Pclass,Age,Survived\n" + rows)
    (tmp_path / "s.yaml").write_text(TITANIC.replace("WIDTH", "3").replace(" FEATURES", ""))
    spec = specc.load(tmp_path / "s.yaml")
    assert spec.ok
    (d,) = [d for d in spec.diagnostics if d.code == "V076"]
    assert d.severity == "warning" and column in d.message
    assert "write features: [Pclass, Age], and declare input 'x' with 2 features" in d.hint
    (tmp_path / "s.yaml").write_text(TITANIC.replace("WIDTH", "2").replace(" FEATURES", ", features: [Pclass, Age]"))
    spec = specc.load(tmp_path / "s.yaml")
    assert spec.ok and not [d for d in spec.diagnostics if d.code == "V076"]


def test_v076_quiet_on_columns_that_only_end_in_id(tmp_path: Path) -> None:
    rows = "".join(f"{i * 3 + 1},{i % 3 + 1},{i % 2}\n" for i in range(40))  # unique whole numbers, no id
    (tmp_path / "t.csv").write_text("Paid,Pclass,Survived\n" + rows)
    (tmp_path / "s.yaml").write_text(TITANIC.replace("WIDTH", "2").replace(" FEATURES", ""))
    spec = specc.load(tmp_path / "s.yaml")
    assert spec.ok and not [d for d in spec.diagnostics if d.code == "V076"]


ACCUMULATE = """specc: 1
inputs: {x: [B, 3, 16, 16]}
layers:
  - {type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1, bias: false}
  - NORM
  - {type: ReLU}
  - {type: GlobalAvgPool}
  - {type: Linear, out_features: 3}
loss: {type: CrossEntropyLoss}
optimizer: {type: Adam, lr: 1.0e-3}
train: {epochs: 1, batch_size: BATCH, accumulate: STEPS, data: {source: synthetic, num_samples: 64}}
"""


def _accumulate(norm: str = "{type: BatchNorm2d}", batch: int = 2, steps: int = 16) -> list[specc.Diagnostic]:
    text = ACCUMULATE.replace("NORM", norm).replace("BATCH", str(batch)).replace("STEPS", str(steps))
    spec = specc.loads(text, "m.yaml")
    assert spec.ok
    return [d for d in spec.diagnostics if d.code == "T064"]


def test_t064_accumulation_does_not_enlarge_what_batchnorm_sees() -> None:
    (d,) = _accumulate()
    assert d.severity == "warning" and d.loc.line == 11 and d.layer == "batch_norm2d_1"
    assert "each optimizer step of 32 samples" in d.message and "its own batch of 2" in d.message
    assert d.hint.startswith("use GroupNorm")


@pytest.mark.parametrize(("norm", "batch", "steps"), [
    ("{type: BatchNorm2d}", 8, 4),  # statistics of 8 samples: BatchNorm's usual floor
    ("{type: BatchNorm2d}", 2, 1),  # no accumulation: T008 and the batch size speak for themselves
    ("{type: GroupNorm, num_groups: 4}", 2, 16),  # the fix
    ("{type: BatchNorm2d, trainable: false}", 2, 16),  # frozen: running statistics, in eval mode
])
def test_t064_quiet(norm: str, batch: int, steps: int) -> None:
    assert _accumulate(norm, batch, steps) == []
