"""Mistakes people make porting from Keras, TF1 and papers, round 5 (helper d24): the warnings among
them at their line with the fix, and the correct look-alikes, which must stay quiet. T084 (shuffle:
false over a file sorted by class), T085 (reduction: sum under SGD at a mean's lr), T086 (a tokenizer's
attention_mask fed as PyTorch's key_padding_mask), T058 of OneCycleLR's max_lr, T059 of a
CosineAnnealingWarmRestarts longer than the run. The stacked-LSTM S003 is in tests/corpus/bad/, the
lint rules' cases (L051 keep_prob as p, L002 before a final Softmax) in tests/corpus/lint/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import specc

MLP = """specc: 1
inputs: {x: [B, 20]}
layers:
  - {type: Linear, out_features: 64}
  - {type: ReLU}
  - {type: Linear, out_features: 3}
"""
CE, ADAM = "loss: {type: CrossEntropyLoss}\n", "optimizer: {type: Adam, lr: 1.0e-3}\n"


def _codes(spec: specc.Spec, code: str) -> list[specc.Diagnostic]:
    return [d for d in spec.diagnostics if d.code == code]


def _load(tmp_path: Path, text: str) -> specc.Spec:
    (tmp_path / "s.yaml").write_text(text)
    return specc.load(tmp_path / "s.yaml")


def _classes(tmp_path: Path, order: str) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    y = {"sorted": np.sort(y), "descending": np.sort(y)[::-1], "mixed": y}[order]
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(300, 20)).astype(np.float32), y=y)


@pytest.mark.parametrize(("order", "data", "harms"), [
    ("sorted", "{source: d.npz, shuffle: false}",
     ("every batch holds one class", "the last 60 rows, holds class 2 alone")),
    ("descending", "{source: d.npz, shuffle: false, val_split: 0}", ("every batch holds one class",)),
    ("sorted", "{source: d.npz, shuffle: false, sampler: balanced}", ("the last 60 rows, holds class 2",)),
])
def test_t084_unshuffled_rows_sorted_by_class(tmp_path: Path, order: str, data: str, harms: tuple[str, ...]) -> None:
    _classes(tmp_path, order)
    spec = _load(tmp_path, MLP + CE + ADAM + f"train: {{epochs: 2, data: {data}}}\n")
    assert spec.ok  # a warning: it trains, one class after the other
    (d,) = _codes(spec, "T084")
    line = Path(spec.path).read_text().splitlines()[8]
    assert d.severity == "warning" and (d.loc.line, d.loc.col) == (9, line.index("shuffle: false") + 10)  # its value
    assert all(h in d.message for h in harms), d.message
    assert d.hint.startswith("set shuffle: true")
    fixed = _load(tmp_path, Path(spec.path).read_text().replace("shuffle: false", "shuffle: true"))
    assert fixed.ok and not _codes(fixed, "T084")


@pytest.mark.parametrize(("order", "tail"), [
    ("mixed", "{source: d.npz, shuffle: false}"),  # file order kept, but the classes are mixed in it
    ("sorted", "{source: d.npz}"),  # shuffled batches and a stratified validation draw
])
def test_t084_quiet_when_batches_mix_the_classes(tmp_path: Path, order: str, tail: str) -> None:
    _classes(tmp_path, order)
    assert not _codes(_load(tmp_path, MLP + CE + ADAM + f"train: {{epochs: 2, data: {tail}}}\n"), "T084")


def test_t084_quiet_on_a_series_regressed_in_order(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)  # a rising series: its targets are sorted, and no classes
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(300, 20)).astype(np.float32),
             y=np.sort(rng.normal(size=(300, 1)), axis=0).astype(np.float32))
    text = MLP.replace("out_features: 3", "out_features: 1") + "loss: {type: MSELoss}\n" + ADAM + \
        "train: {epochs: 2, data: {source: d.npz, shuffle: false}}\n"
    assert not _codes(_load(tmp_path, text), "T084")


SUMMED = MLP + "loss: {type: LOSS, reduction: sum}\noptimizer: {type: OPT, lr: LR}\n" \
    "train: {epochs: 2, batch_size: BATCH, data: {source: synthetic}}\n"


@pytest.mark.parametrize(("loss", "lr", "batch", "n"), [
    ("CrossEntropyLoss", "0.1", 256, 256),  # an ImageNet-style lr kept with Keras' sum_over_batch
    ("MSELoss", "0.01", 200, 600),  # the sum runs over each sample's 3 outputs too
])
def test_t085_summed_loss_under_sgd(loss: str, lr: str, batch: int, n: int) -> None:
    text = SUMMED.replace("LOSS", loss).replace("OPT", "SGD").replace("LR", lr).replace("BATCH", str(batch))
    spec = specc.loads(text, "m.yaml")
    assert spec.ok
    (d,) = _codes(spec, "T085")
    assert d.severity == "warning" and (d.loc.line, d.loc.col) == (7, text.splitlines()[6].index("sum}") + 1)
    assert f"{n:,} times the mean loss's" in d.message
    assert d.hint.startswith(f"set reduction: mean to keep lr: {lr}") and f"lr: {float(lr) / n:.2g}" in d.hint
    fixed = specc.loads(text.replace("reduction: sum", "reduction: mean"), "m.yaml")
    assert fixed.ok and not _codes(fixed, "T085")


@pytest.mark.parametrize(("opt", "lr", "extra"), [
    ("Adam", "0.001", ""),  # Adam divides the gradient by its own scale
    ("SGD", "1.0e-4", ""),  # an lr written for the sum: 1e-4 x 256 is a mean's 0.0256
    ("SGD", "0.1", ", grad_clip: 1.0"),  # the clip bounds the step
])
def test_t085_quiet(opt: str, lr: str, extra: str) -> None:
    text = SUMMED.replace("LOSS", "CrossEntropyLoss").replace("OPT", opt).replace("LR", lr).replace("BATCH", "256")
    text = text.replace("batch_size: 256", "batch_size: 256" + extra)
    assert not _codes(specc.loads(text, "m.yaml"), "T085")


ATTENTION = """specc: 1
inputs:
  x: {shape: [B, 16], dtype: int64}
  m: {shape: [B, 16], dtype: bool}
layers:
  - {type: Embedding, num_embeddings: 100, embedding_dim: 32, from: x}
  - {type: MultiheadAttention, num_heads: 4, masks: [key_padding], from: [embedding_1, m]}
  - {type: Mean, dim: 1}
  - {type: Linear, out_features: 2}
loss: {type: CrossEntropyLoss}
optimizer: {type: Adam, lr: 1.0e-3}
train: {epochs: 1, data: {source: d.npz, x_key: {x: x, m: m}}}
"""


def _tokens(tmp_path: Path, mask: str) -> None:
    """Right-padded token rows (some full-length), their padding mask in the form named."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(4, 17, 200)
    pad = np.arange(16)[None, :] >= lengths[:, None]  # True at the padding: PyTorch's key_padding_mask
    m = {"pytorch": pad, "tokenizer": ~pad, "left": pad[:, ::-1].copy()}[mask]
    np.savez(tmp_path / "d.npz", x=rng.integers(1, 100, (200, 16)), m=m, y=rng.integers(0, 2, 200))


def test_t086_tokenizer_attention_mask_as_key_padding(tmp_path: Path) -> None:
    _tokens(tmp_path, "tokenizer")
    spec = _load(tmp_path, ATTENTION)
    assert spec.ok
    (d,) = _codes(spec, "T086")
    assert d.severity == "warning" and (d.loc.line, d.loc.col) == (4, 6)  # the mask input's own line
    full = int((np.random.default_rng(0).integers(4, 17, 200) == 16).sum())
    assert f"hides every key of {full} of the 200 samples" in d.message
    assert "(m = attention_mask == 0)" in d.hint


@pytest.mark.parametrize("mask", ["pytorch", "left"])  # True at the padding, on the right or the left
def test_t086_quiet_on_masks_true_at_the_padding(tmp_path: Path, mask: str) -> None:
    _tokens(tmp_path, mask)
    spec = _load(tmp_path, ATTENTION)
    assert spec.ok and not _codes(spec, "T086")


@pytest.mark.parametrize(("opt", "peak", "fix"), [
    ("{type: Adam, lr: 1.0e-3}", "1.0", "use max_lr: 0.01"),  # SGD's super-convergence peak on Adam
    ("{type: SGD, lr: 0.01, momentum: 0.9}", "1.0e-8", "use max_lr: 0.1"),  # a lost minus-sign digit
])
def test_t058_onecycle_peak(opt: str, peak: str, fix: str) -> None:
    text = MLP + CE + f"optimizer: {opt}\nscheduler: {{type: OneCycleLR, max_lr: {peak}}}\n"
    (d,) = _codes(specc.loads(text, "m.yaml"), "T058")
    assert d.severity == "warning" and (d.loc.line, d.loc.col) == (9, 39) and d.hint.startswith(fix)
    fixed = text.replace(f"max_lr: {peak}", fix.removeprefix("use "))
    assert not _codes(specc.loads(fixed, "m.yaml"), "T058")


@pytest.mark.parametrize(("opt", "peak"), [("{type: AdamW, lr: 1.0e-3}", "3.0e-3"),
                                           ("{type: SGD, lr: 0.01, momentum: 0.9}", "1.0")])
def test_t058_quiet_on_usual_peaks(opt: str, peak: str) -> None:
    text = MLP + CE + f"optimizer: {opt}\nscheduler: {{type: OneCycleLR, max_lr: {peak}}}\n"
    assert not _codes(specc.loads(text, "m.yaml"), "T058")


@pytest.mark.parametrize(("t0", "epochs", "quiet"), [(50, 10, False), (10, 70, True), (10, 10, True)])
def test_t059_warm_restarts_longer_than_the_run(t0: int, epochs: int, quiet: bool) -> None:
    text = MLP + CE + ADAM + f"scheduler: {{type: CosineAnnealingWarmRestarts, T_0: {t0}}}\n" \
        f"train: {{epochs: {epochs}, data: {{source: synthetic}}}}\n"
    found = _codes(specc.loads(text, "m.yaml"), "T059")
    if quiet:
        assert not found
        return
    (d,) = found
    assert d.loc.line == 9 and "fallen only 7.8% of the way" in d.message and "never restarts" in d.message
    assert d.hint.startswith("use T_0: 3")
    assert not _codes(specc.loads(text.replace(f"T_0: {t0}", "T_0: 3"), "m.yaml"), "T059")


def _imbalanced(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 20)).astype(np.float32)
    y = np.repeat([0, 1, 2], [320, 60, 20])
    np.savez(tmp_path / "d.npz", x=x, y=y, yb=(y == 2).astype(np.float32)[:, None])  # 5% positives


@pytest.mark.parametrize(("loss", "fix", "head"), [
    ("{type: CrossEntropyLoss, weight: [0.8, 0.15, 0.05]}", "weight: [0.417, 2.22, 6.67]", "MLP"),
    ("{type: BCEWithLogitsLoss, pos_weight: [0.05]}", "pos_weight: [19]", "BINARY"),  # 20 / 380
])
def test_t087_class_weights_written_as_frequencies(tmp_path: Path, loss: str, fix: str, head: str) -> None:
    _imbalanced(tmp_path)
    model = MLP if head == "MLP" else MLP.replace("out_features: 3", "out_features: 1")
    y_key = "" if head == "MLP" else ", y_key: yb"
    text = model + f"loss: {loss}\n" + ADAM + f"train: {{epochs: 1, data: {{source: d.npz{y_key}}}}}\n"
    spec = _load(tmp_path, text)
    assert spec.ok
    (d,) = _codes(spec, "T087")
    key = fix.split(":")[0]
    assert d.severity == "warning" and (d.loc.line, d.loc.col) == (7, text.splitlines()[6].index(key) + len(key) + 3)
    assert d.hint.startswith(f"use {fix}")
    fixed = _load(tmp_path, text.replace(loss[loss.index(key):].rstrip("}"), fix))
    assert fixed.ok and not _codes(fixed, "T087")


@pytest.mark.parametrize("loss", [
    "{type: CrossEntropyLoss, weight: [1.0, 1.0, 1.0]}",
    "{type: CrossEntropyLoss, weight: [0.4, 2.0, 7.0]}",  # inverse frequencies, rounded
])
def test_t087_quiet_on_weights_against_the_imbalance(tmp_path: Path, loss: str) -> None:
    _imbalanced(tmp_path)
    text = MLP + f"loss: {loss}\n" + ADAM + "train: {epochs: 1, data: {source: d.npz}}\n"
    assert not _codes(_load(tmp_path, text), "T087")


@pytest.mark.parametrize(("weights", "found"), [
    ("class_weights: auto, ", "class_weights: auto weighs"),
    ("", "the loss's weight weighs"),
])
def test_v140_imbalance_corrected_twice(weights: str, found: str) -> None:
    loss = "loss: {type: CrossEntropyLoss, weight: [1.0, 4.0, 16.0]}\n" if not weights else CE
    text = MLP + loss + ADAM + f"train: {{epochs: 1, {weights}data: {{source: synthetic, sampler: balanced}}}}\n"
    spec = specc.loads(text, "m.yaml")
    assert spec.ok
    (d,) = _codes(spec, "V140")
    assert d.severity == "warning" and d.loc.line == 9 and found in d.message
    assert d.hint.startswith("set sampler: random")
    assert not _codes(specc.loads(text.replace("sampler: balanced", "sampler: random"), "m.yaml"), "V140")


@pytest.mark.parametrize(("source", "features", "data", "found"), [
    ("iris", 4, "val_split: 0.5", "the last 75 rows, holds classes 1, 2 alone (2 never trained on)"),
    ("wine", 13, "val_split: 0", "every batch holds one class"),
])
def test_t084_bundled_sets_sorted_by_class(source: str, features: int, data: str, found: str) -> None:
    text = MLP.replace("[B, 20]", f"[B, {features}]") + CE + ADAM + \
        f"train: {{epochs: 5, data: {{source: {source}, shuffle: false, {data}}}}}\n"
    spec = specc.loads(text, "m.yaml")
    assert spec.ok
    (d,) = _codes(spec, "T084")
    assert d.severity == "warning" and d.loc.line == 9 and found in d.message
    assert f"the rows of '{source}' in their order" in d.message and d.hint.startswith("set shuffle: true")
    assert not _codes(specc.loads(text.replace("shuffle: false", "shuffle: true"), "m.yaml"), "T084")


def test_t084_quiet_on_bundled_sets_of_mixed_classes() -> None:
    text = MLP.replace("[B, 20]", "[B, 64]").replace("out_features: 3", "out_features: 10") + CE + ADAM + \
        "train: {epochs: 5, data: {source: digits, shuffle: false}}\n"
    assert not _codes(specc.loads(text, "m.yaml"), "T084")
