"""`specc train` / `specc predict` / `specc evaluate`: the course's systems learn on real data,
the data is checked against the model before the first epoch, preprocessing is fitted on the
training split and travels with the run (predict and the exported ONNX take raw inputs)."""

from __future__ import annotations

import itertools
import json
import math
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
from cli_run import run_cli

import specc
from specc.cli import main as cli

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from specc.backends.train import DataError  # noqa: E402
from specc.backends.train.loop import balanced_weights, precision  # noqa: E402
from specc.backends.train.preprocess import Preprocessing  # noqa: E402
from specc.backends.train.state import flatten, unflatten  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def mlp(tmp_path: Path, source: str, n_in: int, n_out: int, *, loss: str = "CrossEntropyLoss", epochs: int = 30,
        extra: str = "", hidden: int = 32, name: str = "net.yaml") -> Path:
    return write(tmp_path, f"""\
        specc: 1
        name: Net
        inputs: {{x: [B, {n_in}]}}
        layers:
          - {{type: Linear, out_features: {hidden}}}
          - {{type: ReLU}}
          - {{type: Linear, out_features: {n_out}, name: head}}
        loss: {{type: {loss}}}
        optimizer: {{type: Adam, lr: 0.01}}
        train: {{epochs: {epochs}, batch_size: 32, data: {{source: {source}, val_split: 0.25}}{extra}}}
        """, name)


# -- the course's systems --------------------------------------------------------------------------------

def test_xor_answers_all_four_corners(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", str(ROOT / "specs" / "xor.yaml"), "--run", str(run), "--epochs", "15")
    assert code == 0, err
    code, out, _ = run_cli(capsys, "predict", str(run), "--input", "[[0,0],[0,1],[1,0],[1,1]]", "--format", "json")
    assert code == 0
    assert json.loads(out)["label"] == [[0], [1], [1], [0]]
    ort = pytest.importorskip("onnxruntime")
    onnx_path = tmp_path / "xor.onnx"
    code, _, err = run_cli(capsys, "export", str(ROOT / "specs" / "xor.yaml"), "--weights", str(run),
                           "-o", str(onnx_path))
    assert code == 0, err
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    (logits,) = session.run(None, {"bits": corners})  # raw bits: the scaling is inside the graph
    assert ((logits[:, 0] > 0) == [False, True, True, False]).all()


def test_y_equals_2x_plus_1_in_raw_units_from_predict_and_onnx(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    ort = pytest.importorskip("onnxruntime")
    run = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", str(ROOT / "specs" / "linear_regression.yaml"), "-o", str(run))
    assert code == 0, err
    code, out, _ = run_cli(capsys, "predict", str(run), "--input", "[[60]]", "--format", "json")
    assert code == 0
    assert json.loads(out)["prediction"][0][0] == pytest.approx(121, rel=0.01)
    onnx_path = tmp_path / "line.onnx"
    code, _, err = run_cli(capsys, "export", str(ROOT / "specs" / "linear_regression.yaml"), "--weights", str(run),
                           "-o", str(onnx_path))
    assert code == 0, err
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": np.array([[60.0], [0.0]], dtype=np.float32)})
    assert y[:, 0] == pytest.approx([121, 1], rel=0.01, abs=0.05)
    report = json.loads((run / "report.json").read_text())
    assert report["preprocess"] == {"input x": "standardize", "targets": "standardize"}


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained iris run folder, shared by the tests that read a run (train once, not per test)."""
    folder = tmp_path_factory.mktemp("iris")
    assert cli(["train", str(mlp(folder, "iris", 4, 3, epochs=40)), "--run", str(folder / "run")]) == 0
    return folder / "run"


@pytest.mark.parametrize(("source", "n_in", "n_out", "epochs"), [("iris", 4, 3, 40), ("breast_cancer", 30, 2, 15)])
def test_iris_and_breast_cancer_reach_95_percent(tmp_path: Path, request: pytest.FixtureRequest, source: str,
                                                 n_in: int, n_out: int, epochs: int) -> None:
    if source == "iris":
        run = request.getfixturevalue("iris_run")
    else:
        run = tmp_path / "run"
        specc.train(mlp(tmp_path, source, n_in, n_out, epochs=epochs), run)
    report = json.loads((run / "report.json").read_text())
    assert report["final"]["val_accuracy"] >= 0.95
    # the report states what preprocessing did: tabular float inputs standardised, labels untouched
    assert report["preprocess"] == {"input x": "standardize", "targets": "none"}
    history = (run / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,loss,val_loss,val_accuracy") and len(history) == epochs + 1
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_long_run_is_drawn_through_each_stretch_s_extremes() -> None:
    """curves.png of a 3000-epoch run: at most 2 points a stretch (lines and the legend's placing cost per
    point), yet a one-epoch spike and an undefined stretch (a gap) are still drawn; short runs as they are."""
    from specc.backends.train.run import CURVE_POINTS, _thinned

    epochs = np.arange(1, 3001, dtype=np.float64)
    loss = 1 / epochs
    loss[1234] = 5.0
    loss[500:900] = np.nan
    xs, ys = _thinned(epochs, loss)
    assert len(xs) <= 2 * CURVE_POINTS and list(xs) == sorted(xs) and xs[0] == 1 and xs[-1] == 3000
    assert 1235 in xs and np.nanmax(ys) == 5.0
    assert np.isnan(ys[(xs > 520) & (xs < 880)]).all() and np.isnan(ys).any()
    short = np.arange(1, 31, dtype=np.float64)
    assert _thinned(short, 1 / short)[0] is short


@pytest.mark.slow
def test_digits_cnn_reaches_97_percent_with_a_smooth_val_loss(tmp_path: Path) -> None:
    # 12 of the spec's 30 epochs (the cosine schedule shortened to match) reach about 98.6 %
    result = specc.train(ROOT / "specs" / "digits_cnn.yaml", tmp_path / "run",
                         overrides=["train.epochs=12", "scheduler.T_max=12"])
    assert result.report["final"]["val_accuracy"] >= 0.97
    val = [r["val_loss"] for r in result.history]
    assert max(val) < 3 and all(math.isfinite(v) for v in val)
    # no jumps (between 21 and 142 with unscaled constant pixels): each epoch within 1.5x of the one
    # before, and the last third settled
    assert all(b < 1.5 * a for a, b in itertools.pairwise(val)), val
    late = val[2 * len(val) // 3:]
    assert max(late) < 1.5 * min(late), val


def test_bilstm_tagger_on_a_generated_task(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 20, size=(400, 10))
    tags = (tokens >= 10).astype(np.int64) + (np.roll(tokens, 1, axis=1) % 2 == 0) * 2  # depends on the left word
    np.savez(tmp_path / "tags.npz", x=tokens, y=tags)
    spec = write(tmp_path, """\
        specc: 1
        name: Tagger
        inputs: {tokens: {shape: [B, T], dtype: int64}}
        layers:
          - {type: Embedding, num_embeddings: 20, embedding_dim: 16}
          - {type: LSTM, hidden_size: 16, bidirectional: true, batch_first: true}
          - {type: Linear, out_features: 4}
          - {type: Permute, dims: [0, 2, 1]}   # CrossEntropyLoss reads the classes at dim 1
        loss: {type: CrossEntropyLoss}
        optimizer: {type: Adam, lr: 0.02}
        train: {epochs: 12, batch_size: 32, data: {source: tags.npz, val_split: 0.2}}
        export: {sizes: {T: 10}}
        """)
    result = specc.train(spec, None)
    assert result.report["final"]["val_token_accuracy"] >= 0.95
    assert result.report["preprocess"]["input tokens"] == "none"  # token ids are never scaled


def test_kl_divergence_learns_probability_rows_without_nan(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 5)).astype(np.float32)
    logits = x @ rng.normal(size=(5, 3))
    y = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.savez(tmp_path / "kl.npz", x=x, y=y.astype(np.float32))
    spec = write(tmp_path, """\
        specc: 1
        name: Soft
        inputs: {x: [B, 5]}
        layers:
          - {type: Linear, out_features: 3}
          - {type: LogSoftmax, dim: 1}
        loss: {type: KLDivLoss}
        optimizer: {type: Adam, lr: 0.05}
        train: {epochs: 15, batch_size: 32, data: {source: kl.npz}}
        """)
    result = specc.train(spec, None)
    losses = [r["loss"] for r in result.history]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < 0.2 * losses[0]
    assert result.report["preprocess"]["targets"] == "none"  # probability rows keep their meaning


def test_ctc_learns_real_sequences_with_lengths(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    n, t, c = 300, 16, 5
    labels = np.zeros((n, 4), dtype=np.int64)
    lengths = rng.integers(2, 5, size=n)
    x = np.zeros((n, t, c), dtype=np.float32)
    for i in range(n):
        seq = rng.integers(1, c, size=lengths[i])
        labels[i, :lengths[i]] = seq
        frames = np.repeat(seq, t // lengths[i])[:t]  # each label held for a few frames
        x[i, np.arange(len(frames)), frames] = 1.0
    x += rng.normal(0, 0.1, size=x.shape).astype(np.float32)
    np.savez(tmp_path / "ctc.npz", x=x, y=labels, y_lengths=lengths)
    spec = write(tmp_path, """\
        specc: 1
        name: Reader
        inputs: {frames: [B, 16, 5]}
        layers:
          - {type: GRU, hidden_size: 32, batch_first: true}
          - {type: Linear, out_features: 5}
          - {type: LogSoftmax, dim: 2}
        loss: {type: CTCLoss, zero_infinity: true}
        optimizer: {type: Adam, lr: 0.01}
        train: {epochs: 15, batch_size: 32, data: {source: ctc.npz, val_split: 0.2}}
        """)
    result = specc.train(spec, None)
    losses = [r["val_loss"] for r in result.history]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < 0.5 * losses[0]


# -- checked before the first epoch -----------------------------------------------------------------------

def _fails(capsys: pytest.CaptureFixture[str], spec: Path, code: str, line: int, *words: str) -> str:
    rc, _, err = run_cli(capsys, "train", str(spec), "--run", str(spec.parent / "run"))
    assert rc == 1, err
    assert f"{spec}:{line}:" in err and code in err and "nothing was trained" in err
    assert "Traceback" not in err
    for w in words:
        assert w in err
    assert not (spec.parent / "run" / "checkpoints").exists()
    return err


def bundled_file(tmp_path: Path, name: str = "iris") -> str:
    """A bundled set as a .npz file: data that training reads and check does not know (a bundled
    set's shapes check knows, and rejects a model that does not fit them before training)."""
    from sklearn import datasets

    data = getattr(datasets, f"load_{name}")()
    np.savez(tmp_path / f"{name}.npz", x=data.data, y=data.target)
    return str(tmp_path / f"{name}.npz")


def iris_file(tmp_path: Path) -> str:
    return bundled_file(tmp_path, "iris")


def test_an_output_narrower_than_the_classes_is_located_at_the_output_layer(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(capsys, mlp(tmp_path, iris_file(tmp_path), 4, 2), "T005", 7, "classes 0 to 2", "width to 3")
    # the bundled set: the same mistake, found by check
    _fails(capsys, mlp(tmp_path, "iris", 4, 2, name="bundled.yaml"), "T005", 7, "'iris' has 3 classes", "width to 3")


def test_regression_targets_under_a_classification_loss_are_named_as_such(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """diabetes' targets (25 to 346, whole numbers) under CrossEntropyLoss: not '347 classes, set the
    width to 347' but a regression's values, with the loss that fits, at the loss's line."""
    err = _fails(capsys, mlp(tmp_path, bundled_file(tmp_path, "diabetes"), 10, 1), "T005", 8,
                 "look like measured values, not class ids", "about one sample per class", "use loss: {type: MSELoss}")
    assert "if they really are class ids, set the last layer's width to 347" in err
    _fails(capsys, mlp(tmp_path, "diabetes", 10, 1, name="bundled.yaml"), "T005", 8,
           "'diabetes' holds measured values (a regression)", "use loss: {type: MSELoss}")


def test_class_ids_under_a_regression_loss_get_the_classification_loss(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """iris (one class index 0..2 per sample) under MSELoss with 3 outputs: the hint names CrossEntropyLoss."""
    _fails(capsys, mlp(tmp_path, iris_file(tmp_path), 4, 3, loss="MSELoss"), "T003", 10,
           "targets have shape [] per sample", "one class index (0 to 2) per sample",
           "loss: {type: CrossEntropyLoss} with the 3 outputs")
    _fails(capsys, mlp(tmp_path, "iris", 4, 3, loss="MSELoss", name="bundled.yaml"), "T003", 8,
           "one class label (0 to 2) per sample", "loss: {type: CrossEntropyLoss} with the 3 outputs")


@pytest.mark.parametrize(("source", "n_in", "n_out", "code", "words"), [
    ("iris", 4, 3, "T006", "has 3 classes (labels 0 to 2), but BCEWithLogitsLoss reads yes/no targets in [0, 1]"),
    ("iris", 4, 1, "T006", "has 3 classes (labels 0 to 2), but BCEWithLogitsLoss reads yes/no targets in [0, 1]"),
    ("breast_cancer", 30, 2, "T003", "one class label (0 to 1) per sample, but BCEWithLogitsLoss compares it"),
])
def test_class_ids_under_a_binary_loss_are_refused_by_check(tmp_path: Path, source: str, n_in: int, n_out: int,
                                                            code: str, words: str) -> None:
    """A bundled set's labels under BCEWithLogitsLoss: check knew them, said ok, and training
    refused the targets; check now says what training would, at the loss."""
    spec = specc.load(mlp(tmp_path, source, n_in, n_out, loss="BCEWithLogitsLoss"))
    [d] = spec.errors
    assert d.code == code and words in d.message and "CrossEntropyLoss" in d.hint
    assert d.loc is not None and d.loc.line == 8
    # two classes and one output is what a binary loss trains
    assert specc.load(mlp(tmp_path, "breast_cancer", 30, 1, loss="BCEWithLogitsLoss", name="ok.yaml")).ok


def _batch_of_one(norm: str, shape: str = "[B, 8]", extra: str = "") -> specc.Spec:
    return specc.loads(f"""\
        specc: 1
        inputs: {{x: {shape}}}
        layers:
          - {norm}
          - {{type: Flatten}}
          - {{type: Linear, out_features: 3}}
        loss: {{type: CrossEntropyLoss}}
        optimizer: {{type: Adam, lr: 0.01}}
        train: {{batch_size: 1, data: {{source: synthetic, num_samples: 8}}}}
        {extra}""".replace("        ", ""), "one.yaml")


def test_a_batch_of_one_into_a_batch_norm_of_one_value_per_channel_is_refused_by_check() -> None:
    """What PyTorch refuses at the first training step, check refuses at batch_size (T008)."""
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch.nn.BatchNorm1d(8).train()(torch.randn(1, 8))
    [d] = _batch_of_one("{type: BatchNorm1d}").errors
    assert d.code == "T008" and d.loc is not None and d.loc.line == 9 and "batch_size: 2" in d.hint
    assert _batch_of_one("{type: BatchNorm2d}", "[B, 8, 1, 1]").errors[0].code == "T008"
    # a map of several positions gives a channel several values; a frozen norm reads running statistics
    torch.nn.BatchNorm2d(8).train()(torch.randn(1, 8, 2, 2))
    assert _batch_of_one("{type: BatchNorm2d}", "[B, 8, 2, 2]").ok
    assert _batch_of_one("{type: BatchNorm1d, trainable: false}").ok


def test_a_batch_of_two_into_a_batch_norm_of_one_value_per_sample_is_a_warning() -> None:
    """Two values per channel normalise to +1 and -1 whatever they are (V072): RegNetX-400MF at
    batch_size 2 on 32x32 images (1x1 last maps) reached gradients of 1e20 and a nan loss at any lr."""
    norm = torch.nn.BatchNorm1d(4).train()
    x = torch.tensor([[0.3, -2.0, 40.0, 7e3], [1.9, 5.0, -10.0, -2e3]])
    torch.testing.assert_close(norm(x).abs(), torch.ones(2, 4), rtol=1e-3, atol=1e-3)
    two = specc.loads(_batch_of_one("{type: BatchNorm1d}").text.replace("batch_size: 1", "batch_size: 2"), "two.yaml")
    assert two.ok
    [d] = [d for d in two.diagnostics if d.code == "V072"]
    assert d.severity == "warning" and d.loc is not None and d.loc.line == 9
    assert "two values per channel" in d.message and "batch_size: 4" in d.hint
    # at the synthetic data's sizes: a (B, 8, H/32, W/32) map is 1x1 at H = W = 32, 2x2 at 64
    conv = ("{type: Conv2d, out_channels: 8, kernel_size: 3, stride: 32, padding: 1}\n  - {type: BatchNorm2d}\n"
            "  - {type: GlobalAvgPool}")
    small = _batch_of_one(conv, "[B, 3, H, W]", "export: {sizes: {H: 32, W: 32}}").text
    small = small.replace("batch_size: 1", "batch_size: 2")
    assert "V072" in {d.code for d in specc.loads(small, "s.yaml").diagnostics}
    larger = small.replace("H: 32, W: 32", "H: 64, W: 64")
    assert "V072" not in {d.code for d in specc.loads(larger, "l.yaml").diagnostics}
    # four values per channel, or a frozen norm (running statistics), are left alone
    four = _batch_of_one("{type: BatchNorm1d}").text.replace("batch_size: 1", "batch_size: 4")
    assert "V072" not in {d.code for d in specc.loads(four, "four.yaml").diagnostics}
    frozen = _batch_of_one("{type: BatchNorm1d, trainable: false}").text.replace("batch_size: 1", "batch_size: 2")
    assert "V072" not in {d.code for d in specc.loads(frozen, "f.yaml").diagnostics}


def test_a_missing_npz_key_and_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "d.npz", features=np.zeros((10, 4)), y=np.zeros(10))
    _fails(capsys, mlp(tmp_path, "d.npz", 4, 3), "T002", 10, "no array 'x'", "features")
    _fails(capsys, mlp(tmp_path, "nothere.npz", 4, 3), "T001", 10, "does not exist")


def test_floats_fed_to_an_embedding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "t.npz", x=np.random.default_rng(0).random((20, 6)), y=np.zeros(20, dtype=np.int64))
    spec = write(tmp_path, """\
        specc: 1
        inputs: {ids: {shape: [B, 6], dtype: int64}}
        layers:
          - {type: Embedding, num_embeddings: 10, embedding_dim: 4}
          - {type: Flatten}
          - {type: Linear, out_features: 2}
        loss: {type: CrossEntropyLoss}
        optimizer: {type: Adam}
        train: {data: {source: t.npz}}
        """)
    _fails(capsys, spec, "T004", 2, "fractional")


def test_bce_and_kl_targets_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    np.savez(tmp_path / "b.npz", x=x, y=x[:, 0] * 10)
    _fails(capsys, mlp(tmp_path, "b.npz", 3, 1, loss="BCEWithLogitsLoss"), "T006", 8, "[0, 1]")
    np.savez(tmp_path / "k.npz", x=x, y=np.abs(x))
    _fails(capsys, mlp(tmp_path, "k.npz", 3, 3, loss="KLDivLoss, from_logits: true"), "T006", 8, "probability")


def test_ctc_transcripts_the_output_steps_cannot_spell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a stride-2 conv halves T = 20 frames to 10 steps: 10 labels fit, 9 with one repeat need 10,
    # 6 with 5 repeats (a blank between each) need 11 and had made the first batch's loss inf, then "nan"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 20, 6)).astype(np.float32)
    y = np.tile(np.arange(1, 11), (8, 1))
    lengths = np.full(8, 10)
    y[3, :9] = [1, 1, 2, 3, 4, 5, 6, 7, 8]
    lengths[3] = 9
    spec = write(tmp_path, """\
        specc: 1
        inputs: {frames: [B, T, 6]}
        layers:
          - {type: Permute, dims: [0, 2, 1]}
          - {type: Conv1d, out_channels: 12, kernel_size: 2, stride: 2}
          - {type: Permute, dims: [0, 2, 1]}
          - {type: LogSoftmax, dim: -1}
        loss: {type: CTCLoss}
        optimizer: {type: Adam}
        train: {epochs: 1, batch_size: 4, data: {source: ctc.npz}}
        """)
    np.savez(tmp_path / "ctc.npz", x=x, y=y, y_lengths=lengths)
    rc, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "ok"))
    assert rc == 0, err
    y[5, :6], lengths[5] = [4, 4, 4, 4, 4, 4], 6
    np.savez(tmp_path / "ctc.npz", x=x, y=y, y_lengths=lengths)
    _fails(capsys, spec, "T006", 10, "CTC target of 6 labels needs 11 output steps", "gives 10 steps",
           "T=20", "zero_infinity: true")
    # zero_infinity: true is the user's choice to skip them: training runs
    spec.write_text(spec.read_text().replace("{type: CTCLoss}", "{type: CTCLoss, zero_infinity: true}"))
    rc, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "skip"))
    assert rc == 0, err


def test_a_language_model_given_one_label_per_sequence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a (B, T, V) LM needs a label per token: the message showed the made-up size 16 for T
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "lm.npz", x=rng.integers(0, 50, (8, 10)), y=rng.integers(0, 50, (8,)))
    spec = write(tmp_path, """\
        specc: 1
        inputs: {ids: {shape: [B, T], dtype: int64}}
        layers:
          - {type: Embedding, num_embeddings: 50, embedding_dim: 8}
          - {type: Linear, out_features: 50}
        loss: {type: CrossEntropyLoss, class_dim: -1}
        optimizer: {type: Adam}
        train: {data: {source: lm.npz}}
        """)
    err = _fails(capsys, spec, "T003", 8, "targets have shape [] per sample, the output needs [T]")
    assert "16" not in err


def test_a_data_set_that_does_not_fit_the_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(capsys, mlp(tmp_path, iris_file(tmp_path), 5, 3), "T003", 3, "[5]", "[4]")
    _fails(capsys, mlp(tmp_path, "iris", 5, 3, name="bundled.yaml"), "T003", 3, "gives 4 values", "x: [B, 4]")


def test_classes_numbered_from_one_are_named_as_such(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "r.npz", x=rng.standard_normal((30, 4)), y=rng.integers(1, 4, 30))
    _fails(capsys, mlp(tmp_path, str(tmp_path / "r.npz"), 4, 3), "T005", 7, "number the classes 1 to 3",
           "subtract 1 from the targets")


def test_a_lone_label_apart_from_the_classes_is_named_an_ignore_label(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # a VOC mask's void border (255) and unlabelled points (-1): the hint had said "set the last
    # layer's width to 256" (or "number the classes 0, 1, 2"); with ignore_index set it trains
    rng = np.random.default_rng(0)
    for void, code in ((255, "T005"), (-1, "T006")):
        y = rng.integers(0, 3, 40)
        y[::5] = void
        np.savez(tmp_path / "v.npz", x=rng.standard_normal((40, 4)), y=y)
        _fails(capsys, mlp(tmp_path, str(tmp_path / "v.npz"), 4, 3), code, 8,
               f"the targets hold {void} beside the classes 0 to 2", f"set ignore_index: {void} in the loss")
        spec = mlp(tmp_path, str(tmp_path / "v.npz"), 4, 3, loss=f"CrossEntropyLoss, ignore_index: {void}", epochs=1)
        rc, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / f"ok{void}"))
        assert rc == 0, err
    # 0..3 under 3 scores has no gap: one class too many, as before
    np.savez(tmp_path / "w.npz", x=rng.standard_normal((40, 4)), y=np.arange(40) % 4)
    _fails(capsys, mlp(tmp_path, str(tmp_path / "w.npz"), 4, 3), "T005", 7, "classes 0 to 3", "width to 4")


def test_a_segmentation_mask_saved_with_a_channel_of_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # (N, 1, H, W): the 1 stands where the output has its classes, so it is one index per pixel and
    # trains; (N, H, W, 1) is named, with the squeeze that fixes it
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3, 6, 6))
    spec = write(tmp_path, """\
        specc: 1
        name: Seg
        inputs: {image: [B, 3, 6, 6]}
        layers:
          - {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}
        loss: {type: CrossEntropyLoss}
        optimizer: {type: Adam}
        train: {epochs: 1, batch_size: 4, data: {source: m.npz}}
        """)
    np.savez(tmp_path / "m.npz", x=x, y=rng.integers(0, 4, (8, 1, 6, 6)))
    rc, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "ok"))
    assert rc == 0, err
    np.savez(tmp_path / "m.npz", x=x, y=rng.integers(0, 4, (8, 6, 6, 1)))
    _fails(capsys, spec, "T003", 8, "targets have shape [6, 6, 1] per sample, the output needs [6, 6]",
           "drop the targets' dim of size 1 (dim 3 of the array: y.squeeze(3)")


def test_channels_last_images_get_the_permute_that_reads_them(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "img.npz", x=rng.standard_normal((12, 8, 8, 3)), y=rng.integers(0, 2, 12))
    spec = write(tmp_path, f"""\
        specc: 1
        name: Net
        inputs: {{x: [B, 3, 8, 8]}}
        layers:
          - {{type: Conv2d, out_channels: 4, kernel_size: 3}}
          - {{type: Flatten}}
          - {{type: Linear, out_features: 2}}
        loss: {{type: CrossEntropyLoss}}
        optimizer: {{type: Adam}}
        train: {{epochs: 1, batch_size: 4, data: {{source: {tmp_path / "img.npz"}}}}}
        """)
    err = _fails(capsys, spec, "T003", 3, "the data is channels-last", "declare the input as [B, 8, 8, 3]",
                 "{type: Permute, dims: [0, 3, 1, 2]}")
    # the fix as the hint says it: trains
    text = spec.read_text().replace("x: [B, 3, 8, 8]", "x: [B, 8, 8, 3]").replace(
        "layers:\n", "layers:\n  - {type: Permute, dims: [0, 3, 1, 2]}\n")
    spec.write_text(text)
    rc, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "fixed"))
    assert rc == 0, err


def test_one_hot_targets_train_as_class_indices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Keras' categorical targets: each row's 1 is the class; rows with several 1s are multi-label
    # targets, refused with the loss that trains them, and one-hot rows of more classes than the
    # output scores with the width that fits
    from sklearn import datasets

    iris = datasets.load_iris()
    np.savez(tmp_path / "hot.npz", x=iris.data, y=np.eye(3)[iris.target])
    specc.train(mlp(tmp_path, str(tmp_path / "hot.npz"), 4, 3, epochs=40), tmp_path / "run")
    final = json.loads((tmp_path / "run" / "report.json").read_text())["final"]
    assert final["val_accuracy"] >= 0.9, final
    other = tmp_path / "two"
    other.mkdir()
    np.savez(other / "two.npz", x=iris.data, y=np.eye(3)[iris.target] + np.eye(3)[(iris.target + 1) % 3])
    _fails(capsys, mlp(other, str(other / "two.npz"), 4, 3), "T006", 8, "rows of 3 yes/no labels with up to 2 1s",
           "use loss: {type: BCEWithLogitsLoss}")
    _fails(capsys, mlp(other, str(tmp_path / "hot.npz"), 4, 2, name="narrow.yaml"), "T005", 7,
           "one-hot rows of 3 classes, but output 'head' gives 2 scores", "set the last layer's width to 3")


def test_a_validation_split_that_leaves_too_few_to_train_on(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    spec = mlp(tmp_path, "iris", 4, 3).read_text().replace("val_split: 0.25", "val_split: 0.99")
    _fails(capsys, write(tmp_path, spec), "T007", 10, "leaves 2 to train on, fewer than the 3 classes",
           "use val_split: 0.2")
    # as many classes as samples: no split leaves each class one, so no val_split is the fix
    np.savez(tmp_path / "few.npz", x=np.random.default_rng(0).normal(size=(6, 4)), y=np.arange(6))
    err = _fails(capsys, mlp(tmp_path, str(tmp_path / "few.npz"), 4, 6, name="few.yaml"), "T007", 10,
                 "leaves 5 to train on, fewer than the 6 classes", "give more data (12 samples or more",
                 "val_split: 0")
    assert "use val_split: 0.2" not in err


PADDED = """\
    specc: 1
    inputs:
      ids: {shape: [B, T], dtype: int64}
      pad: {shape: [B, T], dtype: bool}
    layers:
      - {type: Embedding, from: ids, num_embeddings: 50, embedding_dim: 8}
      - {type: PositionalEncoding}
      - {type: TransformerEncoder, from: [positional_encoding_1, pad], masks: [key_padding], nhead: 2,
         num_layers: 1, dim_feedforward: 16, dropout: 0.0}
      - {type: Mean, dim: 1}
      - {type: Linear, out_features: 2}
    loss: {type: CrossEntropyLoss}
    optimizer: {type: Adam}
    export: {sizes: {T: 3}}
    """


def test_made_up_padding_masks_never_mask_a_whole_row(tmp_path: Path) -> None:
    # random bools as key_padding masks padded every key of one row in eight at T = 3: nan outputs
    from specc.data.read import padding_mask

    masks = padding_mask((4000, 3), np.random.default_rng(0))
    assert not masks.all(axis=1).any() and masks.any()
    assert (masks[:, 1:] >= masks[:, :-1]).all()  # a tail, as padding is
    spec = write(tmp_path, PADDED + "train: {epochs: 2, batch_size: 16, data: {source: synthetic, num_samples: 64}}\n")
    result = specc.train(spec, tmp_path / "run")
    assert math.isfinite(result.report["final"]["val_loss"])


def test_a_model_that_answers_nan_on_validation_data_is_stopped(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # the validation split holds a sample the model divides by zero: its loss is inf or nan, and
    # early stopping and the best checkpoint would be chosen on it
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((40, 4)), rng.integers(0, 2, 40)
    scale = np.ones((40, 1))
    np.savez(tmp_path / "train.npz", x=x, s=scale, y=labels)
    scale_val = scale.copy()
    scale_val[0] = 0.0
    np.savez(tmp_path / "val.npz", x=x, s=scale_val, y=labels)
    spec = write(tmp_path, """\
        specc: 1
        inputs: {x: [B, 4], s: [B, 1]}
        layers:
          - {type: Div, from: [x, s], ignore: [L019]}
          - {type: Linear, out_features: 2}
        loss: {type: CrossEntropyLoss}
        optimizer: {type: Adam}
        train: {epochs: 1, preprocess: {inputs: none}, data: {source: train.npz, val_source: val.npz,
                x_key: {x: x, s: s}, y_key: y}}
        """)
    code, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "run"))
    assert code == 1 and "the validation loss is" in err and "returns nan or inf" in err, err
    assert "Traceback" not in err


def test_a_model_that_answers_nan_after_its_last_update_is_stopped(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # one batch per epoch: its loss is taken before the only update, which blows the weights up, so
    # every epoch's loss is finite while the trained model answers nan (MobileNetV3 at the paper's
    # lr and batch 2 does this through BatchNorm's running statistics); exit 0 would ship it
    spec = write(tmp_path, """\
        specc: 1
        inputs: {x: [B, 4]}
        layers:
          - {type: Linear, out_features: 8}
          - {type: ReLU}
          - {type: Linear, out_features: 2}
        loss: {type: CrossEntropyLoss}
        optimizer: {type: SGD, lr: 1.0e+38}
        train: {epochs: 1, batch_size: 64, data: {source: synthetic, num_samples: 32, val_split: 0}}
        """)
    code, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "run"))
    assert code == 1 and "after training, the model returns nan or inf for some training samples" in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("flag", ["--epochs", "--max-steps"])
def test_zero_epochs_or_steps_is_a_usage_error(flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # it trained nothing and wrote a run folder as if it had
    rc, _, err = run_cli(capsys, "train", str(mlp(tmp_path, "iris", 4, 3)), "--run", str(tmp_path / "run"), flag, "0")
    assert rc == 2 and f"{flag} must be a positive integer" in err
    assert not (tmp_path / "run").exists()


def test_a_npy_source_needs_its_targets_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", (x[:, 0] > 0).astype(np.int64))
    with pytest.raises(DataError, match="targets are missing"):
        specc.train(mlp(tmp_path, "x.npy", 4, 2), None)
    spec = mlp(tmp_path, "x.npy", 4, 2, extra=", preprocess: {inputs: minmax}").read_text()
    spec = spec.replace("source: x.npy", "source: x.npy, targets: y.npy")
    result = specc.train(write(tmp_path, spec, "npy.yaml"), None, epochs=30)
    assert result.report["final"]["val_accuracy"] > 0.9
    assert result.report["preprocess"]["input x"] == "minmax"


def test_early_stopping_without_validation_data_is_an_error_at_check(tmp_path: Path) -> None:
    text = mlp(tmp_path, "iris", 4, 3, extra=", early_stopping: {patience: 3}").read_text()
    spec = specc.load(write(tmp_path, text.replace("val_split: 0.25", "val_split: 0"), "es.yaml"))
    assert [d.code for d in spec.errors] == ["V020"]
    assert spec.errors[0].loc is not None and spec.errors[0].loc.line == 10


# -- preprocessing -----------------------------------------------------------------------------------------

def test_preprocessing_is_fitted_on_the_training_split_and_constant_features_are_safe() -> None:
    cfg = {"inputs": {"x": {"shape": ["B", 3], "dtype": "float32"}}, "task": "regression",
           "train": {"preprocess": {"inputs": "auto", "targets": "auto"}}}
    x = np.array([[1.0, 5.0, 0.0], [3.0, 5.0, 2.0], [5.0, 5.0, 4.0]], dtype=np.float32)
    y = np.array([[10.0], [20.0], [30.0]], dtype=np.float32)
    pre = Preprocessing.fit(cfg, {"x": x}, y)
    scaled = pre.apply_inputs({"x": x})["x"]
    assert np.allclose(scaled.mean(0), 0, atol=1e-6)
    assert np.all(scaled[:, 1] == 0)  # the constant column stays finite (std 0 → scale 1)
    assert np.allclose(pre.invert_outputs(pre.apply_targets(y)), y)
    restored = Preprocessing.restore(pre.meta(), pre.arrays())
    assert np.array_equal(restored.apply_inputs({"x": x})["x"], scaled)


def test_digits_constant_pixels_do_not_blow_up_standardisation(tmp_path: Path) -> None:
    spec = mlp(tmp_path, "digits", 64, 10, epochs=5, extra=", preprocess: {inputs: standardize}")
    result = specc.train(spec, None)
    pre = result.preprocessing.inputs["x"]
    assert np.any(pre.scale == 1.0)  # digits has pixels that never change in training
    assert max(r["val_loss"] for r in result.history) < 1.0


# -- loop features -----------------------------------------------------------------------------------------

def test_mixed_precision_is_chosen_on_cuda_only() -> None:
    assert precision(torch.device("cuda"), True)[0] is True
    assert precision(torch.device("cuda"), False)[0] is False
    enabled, label, note = precision(torch.device("cpu"), True)
    assert not enabled and label == "fp32" and note and "fp32" in note


def test_optimizer_state_round_trips_without_pickle() -> None:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors: dict[str, torch.Tensor] = {}
    skeleton = json.loads(json.dumps(flatten(opt.state_dict(), "opt", tensors)))
    back = unflatten(skeleton, tensors)
    fresh = torch.optim.Adam(model.parameters(), lr=0.1)
    fresh.load_state_dict(back)
    for a, b in zip(opt.state.values(), fresh.state.values()):
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_class_weights_auto_and_a_balanced_sampler_on_imbalanced_data(tmp_path: Path) -> None:
    w = balanced_weights(np.array([0] * 90 + [1] * 10), 2)
    assert w.tolist() == pytest.approx([100 / 180, 100 / 20])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2)).astype(np.float32)
    y = (x[:, 0] > 1.3).astype(np.int64)  # about 10% positives
    np.savez(tmp_path / "imb.npz", x=x, y=y)
    spec = mlp(tmp_path, "imb.npz", 2, 2, epochs=15,
               extra=", class_weights: auto").read_text().replace("val_split: 0.25", "val_split: 0.25, "
                                                                                      "sampler: balanced")
    result = specc.train(write(tmp_path, spec, "imb.yaml"), None)
    assert result.report["final"]["val_recall"] > 0.85  # macro recall: the rare class is found too


def test_gradient_accumulation_and_clipping_train(tmp_path: Path) -> None:
    result = specc.train(mlp(tmp_path, "iris", 4, 3, epochs=60, extra=", accumulate: 4, grad_clip: 1.0"), None)
    assert result.report["final"]["val_accuracy"] > 0.85


def test_init_from_reports_missing_and_unexpected_keys(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    save_file({"layers.0.weight": torch.zeros(32, 4), "extra.weight": torch.zeros(2)}, str(tmp_path / "w.safetensors"))
    model_keys = set(specc.build(mlp(tmp_path, "iris", 4, 3)).state_dict())
    first = sorted(model_keys)[0]
    save_file({first: specc.build(mlp(tmp_path, "iris", 4, 3)).state_dict()[first], "extra.weight": torch.zeros(2)},
              str(tmp_path / "w.safetensors"))
    result = specc.train(mlp(tmp_path, "iris", 4, 3, epochs=1), None, init_from=tmp_path / "w.safetensors")
    init = result.report["init_from"]
    assert init["loaded"] == 1 and init["unexpected"] == ["extra.weight"]
    assert sorted(init["missing"]) == sorted(model_keys - {first})


def test_evaluate_prints_the_task_metrics(iris_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "evaluate", str(iris_run), "--format", "json")
    metrics = json.loads(out)
    assert code == 0 and metrics["samples"] == 37
    assert {"accuracy", "precision", "recall", "f1", "confusion_matrix"} <= set(metrics)
    assert np.array(metrics["confusion_matrix"]).sum() == 37
    assert metrics["classes"] == ["setosa", "versicolor", "virginica"]
    code, out, _ = run_cli(capsys, "evaluate", str(iris_run))
    lines = out.splitlines()
    at = lines.index("confusion matrix (rows: true class, columns: predicted):")
    assert lines[at + 1].split() == ["setosa", "versicolor", "virginica"]
    matrix = np.array([line.split()[1:] for line in lines[at + 2:at + 5]], dtype=int)
    assert code == 0 and matrix.tolist() == metrics["confusion_matrix"]
    recall = [float(line.split()[2]) for line in lines[at + 6:at + 9]]  # per class, as classification_report
    assert np.allclose(recall, np.diag(matrix) / matrix.sum(1), atol=1e-3)
    # report.json names the final matrix, written beside it (a 1000-class one made it 11 MB inline)
    report = json.loads((iris_run / "report.json").read_text())
    assert report["confusion_matrices"] == {"val_confusion_matrix": "val_confusion_matrix.csv"}
    assert not any(isinstance(v, list) for v in report["final"].values())
    rows = (iris_run / "val_confusion_matrix.csv").read_text().splitlines()
    assert rows[0].split(",") == ["true \\ predicted", "setosa", "versicolor", "virginica"]
    assert [r.split(",")[0] for r in rows[1:]] == ["setosa", "versicolor", "virginica"]
    assert [[int(c) for c in r.split(",")[1:]] for r in rows[1:]] == metrics["confusion_matrix"]  # the same model


def test_csv_with_named_columns_and_an_image_folder(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    rows = ["a,noise,b,label"] + [f"{a:.3f},{n:.3f},{b:.3f},{'yes' if a + b > 0 else 'no'}"
                                   for a, n, b in rng.normal(size=(200, 3))]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    spec = mlp(tmp_path, "t.csv", 2, 2, epochs=20).read_text().replace(
        "source: t.csv", "source: t.csv, features: [a, b], target: label")
    result = specc.train(write(tmp_path, spec, "csv.yaml"), None)
    assert result.report["final"]["val_accuracy"] > 0.9 and result.report["data"]["classes"] == ["no", "yes"]
    for cls, value in (("dark", 20), ("light", 230)):
        (tmp_path / "img" / cls).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(np.full((10, 10), value + i, dtype=np.uint8)).save(tmp_path / "img" / cls / f"{i}.png")
    spec = write(tmp_path, """\
        specc: 1
        inputs: {image: [B, 1, 8, 8]}
        layers:
          - {type: Flatten}
          - {type: Linear, out_features: 2}
        loss: {type: CrossEntropyLoss}
        optimizer: {type: Adam, lr: 0.1}
        train: {epochs: 10, batch_size: 8, data: {source: img/, val_split: 0.25}}
        """, "img.yaml")
    result = specc.train(spec, None)
    assert result.report["data"]["classes"] == ["dark", "light"]
    assert result.report["final"]["val_accuracy"] == 1.0


def test_csv_problems_are_named_by_line_column_and_value_and_predict_takes_the_training_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    cells = [(f"{a:.3f}", f"{b:.3f}", "north" if i % 2 else "south", "yes" if a + b > 0 else "no")
             for i, (a, b) in enumerate(rng.normal(size=(120, 2)))]
    cells[4] = (cells[4][0], "", *cells[4][2:])  # a gap at file line 6
    data = tmp_path / "t.csv"
    data.write_text("a,b,region,label\n" + "\n".join(",".join(r) for r in cells) + "\n")
    spec = mlp(tmp_path, "t.csv", 2, 2, epochs=30)
    rc, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "run"))
    # every feature column by default: the text one is named, and the hint keeps the number columns
    assert rc == 1 and "t.csv line 2, column 'region' holds 'south', which is not a number" in err
    assert "features: [a, b] (2 columns" in err and "Traceback" not in err
    spec.write_text(spec.read_text().replace("source: t.csv", "source: t.csv, features: [a, b]"))
    rc, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "run"))
    assert rc == 1 and "t.csv line 6, column 'b' is empty (a missing value)" in err and "does not impute" in err
    cells[4] = (cells[4][0], "0.5", *cells[4][2:])
    data.write_text("a,b,region,label\n" + "\n".join(",".join(r) for r in cells) + "\n")
    rc, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "run"))
    assert rc == 0, err
    # the training file itself (text and target columns beside the features), picked by name,
    # answers as the two columns alone do, in another order
    (tmp_path / "ba.csv").write_text("b,a\n" + "\n".join(f"{r[1]},{r[0]}" for r in cells[:5]) + "\n")
    answers = []
    for given in (data, tmp_path / "ba.csv"):
        rc, out, err = run_cli(capsys, "predict", str(tmp_path / "run"), "--input", str(given), "--format", "json")
        assert rc == 0, err
        answers.append(json.loads(out))
    assert answers[0]["class"][:5] == answers[1]["class"] and answers[0]["classes"] == ["no", "yes"]
    assert np.allclose(np.array(answers[0]["probabilities"][:5]), answers[1]["probabilities"])
    rc, out, _ = run_cli(capsys, "predict", str(tmp_path / "run"), "--input", str(tmp_path / "ba.csv"))
    assert rc == 0 and out.splitlines()[0].startswith("0: ") and " (probabilities no " in out and ", yes " in out
    # pandas' to_csv writes the row numbers as an unnamed first column: no feature, said so
    (tmp_path / "i.csv").write_text(",a,b,label\n" + "\n".join(f"{i},{r[0]},{r[1]},{r[3]}"
                                                                for i, r in enumerate(cells)) + "\n")
    result = specc.train(mlp(tmp_path, "i.csv", 2, 2, epochs=1), None)
    assert any("unnamed first column (a row index" in note for note in result.report["notes"])
    # a spreadsheet's CSV where the decimal mark is a comma: its values split by ';'
    (tmp_path / "semi.csv").write_text("a;b;label\n0,5;1,2;yes\n")
    rc, out, err = run_cli(capsys, "predict", str(tmp_path / "run"), "--input", str(tmp_path / "semi.csv"))
    assert rc == 2 and out == "" and "semi.csv separates its values with ';', not ','" in err
    rc, _, err = run_cli(capsys, "evaluate", str(tmp_path / "run"), "--set", "train.epochs=3")
    assert rc == 2 and "--set does not apply to a run folder" in err  # it was silently ignored
    (tmp_path / "a.csv").write_text("a,region\n0.1,north\n")
    rc, out, err = run_cli(capsys, "predict", str(tmp_path / "run"), "--input", str(tmp_path / "a.csv"))
    assert rc == 2 and out == "" and "a.csv has no column 'b'; the model was trained on the columns a, b" in err


def test_nan_in_a_data_file_is_named_by_its_row_in_the_file(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    x, y = np.random.default_rng(0).normal(size=(60, 3)), np.arange(60) % 2
    x[17, 2] = np.nan  # the file's sample 17, wherever the shuffled split puts it
    np.savez(tmp_path / "d.npz", x=x, y=y)
    rc, _, err = run_cli(capsys, "train", str(mlp(tmp_path, "d.npz", 3, 2)), "--run", str(tmp_path / "run"))
    assert rc == 1 and "input 'x' of d.npz holds NaN at sample 17, index (2,) (1 non-finite value in 1 of 60" in err
    np.savez(tmp_path / "d.npz", x=np.nan_to_num(x), y=np.where(y == 1, np.nan, 0.0))
    rc, _, err = run_cli(capsys, "train", str(mlp(tmp_path, "d.npz", 3, 2)), "--run", str(tmp_path / "run"))
    assert rc == 1 and "hold NaN at sample 1 " in err and "fractional" not in err, err


def test_validation_and_evaluation_data_number_the_classes_as_training_did(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(150, 2)) * 3
    names = np.array(["ant", "bee", "cat"])[np.digitize(x[:, 0], [-1.0, 1.0])]  # three bands of a
    header = "a,b,label\n"
    (tmp_path / "t.csv").write_text(header + "".join(f"{a:.4f},{b:.4f},{n}\n" for (a, b), n in zip(x, names)))
    keep = names != "ant"  # a file without the first class: its own sorted names would number bee 0
    (tmp_path / "v.csv").write_text(header + "".join(
        f"{a:.4f},{b:.4f},{n}\n" for (a, b), n in zip(x[keep], names[keep])))
    spec = mlp(tmp_path, "t.csv", 2, 3, epochs=60).read_text().replace(
        "val_split: 0.25", "val_source: v.csv")
    result = specc.train(write(tmp_path, spec), tmp_path / "run")
    assert result.report["final"]["val_accuracy"] > 0.9  # was about 0: every label one class off
    rc, out, err = run_cli(capsys, "evaluate", str(tmp_path / "run"), "--data", str(tmp_path / "v.csv"),
                           "--format", "json")
    assert rc == 0 and json.loads(out)["accuracy"] > 0.9, err
    (tmp_path / "w.csv").write_text(header + "0.1,0.2,dog\n")
    rc, _, err = run_cli(capsys, "evaluate", str(tmp_path / "run"), "--data", str(tmp_path / "w.csv"))
    assert rc == 2 and "w.csv line 2: the class 'dog' is not one of the classes the model was trained on " \
        "(ant, bee, cat)" in err


def test_npz_targets_saved_as_class_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = np.random.default_rng(4).normal(size=(80, 2))
    np.savez(tmp_path / "d.npz", x=x, y=np.where(x[:, 0] > 0, "pos", "neg"))  # once "a bug in specc"
    result = specc.train(mlp(tmp_path, "d.npz", 2, 2, epochs=40), tmp_path / "run")
    assert result.report["data"]["classes"] == ["neg", "pos"] and result.report["final"]["val_accuracy"] > 0.9
    rc, out, err = run_cli(capsys, "predict", str(tmp_path / "run"), "--input", "[[2.0, 0.0], [-2.0, 0.0]]",
                           "--format", "json")
    assert rc == 0 and json.loads(out)["class"] == ["pos", "neg"], err
    rc, _, err = run_cli(capsys, "train", str(mlp(tmp_path, "d.npz", 2, 1, loss="MSELoss")), "--run",
                         str(tmp_path / "r2"))
    assert rc == 1 and "the targets hold text such as '" in err and "but MSELoss regresses numbers" in err


def test_csv_target_columns_train_one_output_of_that_width(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    x = np.random.default_rng(5).normal(size=(200, 3))
    y = np.stack([x[:, 0] * 2 + 1, x[:, 1] - x[:, 2] * 5 + 100], 1)  # far from 0 and 1: scaled per column
    (tmp_path / "m.csv").write_text("a,b,c,y1,y2,hot,cold\n" + "".join(
        f"{r[0]},{r[1]},{r[2]},{t[0]},{t[1]},{int(r[0] > 0)},{int(r[1] > 0)}\n" for r, t in zip(x, y)))
    spec = mlp(tmp_path, "m.csv", 3, 2, loss="MSELoss", epochs=60).read_text().replace(
        "source: m.csv", "source: m.csv, features: [a, b, c], target: [y1, y2]")
    result = specc.train(write(tmp_path, spec), tmp_path / "run")
    assert result.report["final"]["val_r2"] > 0.95
    rc, out, err = run_cli(capsys, "predict", str(tmp_path / "run"), "--input", "[[0.5, 1.0, -1.0]]",
                           "--format", "json")
    assert rc == 0 and np.allclose(json.loads(out)["prediction"][0], [2.0, 106.0], atol=0.8), out + err
    # two 0/1 label columns: a multi-label head
    spec = mlp(tmp_path, "m.csv", 3, 2, loss="BCEWithLogitsLoss", epochs=60).read_text().replace(
        "source: m.csv", "source: m.csv, features: [a, b, c], target: [hot, cold]")
    result = specc.train(write(tmp_path, spec, "labels.yaml"), None)
    assert result.report["final"]["val_accuracy"] > 0.9


def test_greyscale_images_saved_without_their_channel_dim(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images * 16).clip(0, 255).astype(np.uint8)  # (N, 8, 8) bytes, as Pillow or MNIST gives
    np.savez(tmp_path / "d.npz", x=images, y=digits.target)
    spec = write(tmp_path, """\
        specc: 1
        inputs: {image: [B, 1, 8, 8]}
        layers:
          - {type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1}
          - {type: ReLU}
          - {type: Flatten}
          - {type: Linear, out_features: 10}
        loss: {type: CrossEntropyLoss}
        optimizer: {type: Adam, lr: 0.001}
        train: {epochs: 2, batch_size: 64, data: {source: d.npz}}
        """)
    result = specc.train(spec, tmp_path / "run")  # was T003: [1, 8, 8] wanted, [8, 8] given
    assert any("holds bytes from 0 to 255 (uint8 images), trained as they are" in n for n in result.report["notes"])
    for given, n in ((images[:3], 3), (images[5], 1), (images[5:6, None], 1)):  # 3 images, one, one with channel
        np.save(tmp_path / "x.npy", given)
        rc, out, err = run_cli(capsys, "predict", str(tmp_path / "run"), "--input", str(tmp_path / "x.npy"),
                               "--format", "json")
        assert rc == 0 and len(json.loads(out)["label"]) == n, err


def test_a_csv_without_a_header_row_trains_on_every_column_but_the_last(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = np.random.default_rng(6).normal(size=(80, 2))
    (tmp_path / "u.csv").write_text("".join(f"{a},{b},{'hi' if a > 0 else 'lo'}\n" for a, b in x))  # as UCI ships
    result = specc.train(mlp(tmp_path, "u.csv", 2, 2, epochs=30), tmp_path / "run")  # its first row was a header
    assert result.report["data"]["classes"] == ["hi", "lo"] and result.report["final"]["val_accuracy"] > 0.9
    assert result.report["data"]["train_samples"] + result.report["data"]["val_samples"] == 80
    (tmp_path / "p.csv").write_text("2.0,0.0\n-2.0,0.0\n")
    rc, out, err = run_cli(capsys, "predict", str(tmp_path / "run"), "--input", str(tmp_path / "p.csv"))
    assert rc == 0 and out.startswith("0: hi") and "1: lo" in out, err
    spec = mlp(tmp_path, "u.csv", 2, 2).read_text().replace("source: u.csv", "source: u.csv, target: y")
    rc, _, err = run_cli(capsys, "train", str(write(tmp_path, spec, "named.yaml")), "--run", str(tmp_path / "r2"))
    assert rc == 1 and "u.csv has no header row (its first row reads as data), so target: names no column" in err


def test_csv_targets_with_gaps_or_words_where_numbers_are_regressed(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    rows = [f"{i / 10},{i / 5}" for i in range(40)]
    for broken, said in (("1.5,", "line 4: the target column 'y' is empty"),
                         ("1.5,n/a", "line 4: the target column 'y' holds 'n/a', but the loss regresses numbers")):
        (tmp_path / "r.csv").write_text("x,y\n" + "\n".join([*rows[:2], broken, *rows[3:]]) + "\n")
        spec = mlp(tmp_path, "r.csv", 1, 1, loss="MSELoss", epochs=2)
        rc, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "run"))
        # read as classes, a regression would have trained on the ranks of the values
        assert rc == 1 and said in err and "Traceback" not in err, err


def test_predict_reads_image_files_as_training_read_the_folder(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    for cls, value in (("dark", 20), ("light", 230)):
        (tmp_path / "img" / cls).mkdir(parents=True)
        for i in range(12):  # RGB photos of another size: read as 1-channel 8x8, as the input says
            Image.fromarray(np.full((13, 11, 3), value + i, dtype=np.uint8)).save(tmp_path / "img" / cls / f"{i}.png")
    spec = write(tmp_path, """\
        specc: 1
        inputs: {image: [B, 1, H, W]}
        export: {sizes: {H: 8, W: 8}}
        layers:
          - {type: GlobalAvgPool}
          - {type: Linear, out_features: 2}
        loss: {type: CrossEntropyLoss}
        optimizer: {type: Adam, lr: 0.1}
        train: {epochs: 30, batch_size: 8, data: {source: img/, val_split: 0.25}}
        """, "img.yaml")
    (tmp_path / "img" / "light" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nno more")
    rc, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "run"))
    assert rc == 1 and "broken.png is not an image Pillow can read" in err and "replace it" in err, err
    (tmp_path / "img" / "light" / "broken.png").unlink()
    rc, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "run"))
    assert rc == 0, err
    run = str(tmp_path / "run")
    rc, out, err = run_cli(capsys, "predict", run, "--input", str(tmp_path / "img" / "dark" / "3.png"))
    assert rc == 0 and out.startswith("3.png: dark  (probabilities dark "), out + err
    rc, out, err = run_cli(capsys, "predict", run, "--input", str(tmp_path / "img"), "--format", "json")
    answer = json.loads(out)
    assert rc == 0 and len(answer["inputs"]) == 24 and answer["inputs"][0] == "dark/0.png"
    assert answer["class"] == [name.split("/")[0] for name in answer["inputs"]]  # each image's own folder
    # the exported model carries the images' size and the class names: specc run takes an image file
    rc, _, err = run_cli(capsys, "export", str(spec), "--weights", run, "-o", str(tmp_path / "m.onnx"))
    assert rc == 0, err
    rc, out, err = run_cli(capsys, "run", str(tmp_path / "m.onnx"), "-i", str(tmp_path / "img" / "light" / "2.png"))
    assert rc == 0 and "image: (1, 1, 8, 8) float32 (given)" in out and "labels: light" in out, out + err
    (tmp_path / "empty").mkdir()
    rc, out, err = run_cli(capsys, "predict", str(tmp_path / "run"), "--input", str(tmp_path / "empty"))
    assert rc == 2 and out == "" and "holds no images" in err
    # the usual layout of a downloaded set: splits above the class folders
    shutil.copytree(tmp_path / "img", tmp_path / "set" / "train")
    shutil.copytree(tmp_path / "img", tmp_path / "set" / "val")
    nested = spec.read_text().replace("source: img/", "source: set/")
    rc, _, err = run_cli(capsys, "train", str(write(tmp_path, nested, "nested.yaml")), "--run", str(tmp_path / "r2"))
    assert rc == 1 and "holds the folders train, val with class folders inside them" in err
    assert "hint: point at one of them: source: set/train/, val_source: set/val/" in err
    # validation images of one class only: numbered as in training (light is 1), not as the first
    shutil.copytree(tmp_path / "img" / "light", tmp_path / "val" / "light")
    spec.write_text(spec.read_text().replace("val_split: 0.25", "val_source: val/"))
    result = specc.train(spec, None)
    assert result.report["final"]["val_accuracy"] == 1.0


def test_images_keep_their_size_where_the_spec_leaves_it_symbolic(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # [B, 3, H, W] without export sizes: the images are read at their own 40x30, not squeezed to
    # 16x16 (the size of made-up data); a size the model cannot take is T003 with the nearest one
    from PIL import Image

    from specc.data.read import load
    from specc.validate.train_config import train_config

    for cls in ("a", "b"):
        (tmp_path / "img" / cls).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (30, 40), (i * 40, 0, 0)).save(tmp_path / "img" / cls / f"{i}.png")
    text = """\
        specc: 1
        inputs: {image: [B, 3, H, W]}
        layers:
          - {type: Conv2d, out_channels: 4, kernel_size: KERNEL}
          - {type: GlobalAvgPool}
          - {type: Linear, out_features: 2}
        loss: {type: CrossEntropyLoss}
        optimizer: {type: Adam}
        train: {epochs: 1, batch_size: 4, data: {source: img/}}
        """
    spec = write(tmp_path, text.replace("KERNEL", "3"), "img.yaml")
    cfg = train_config(specc.load(spec))
    data = load("img/", cfg, tmp_path, np.random.default_rng(0))
    assert data.inputs["image"].shape == (8, 3, 40, 30)
    _fails(capsys, write(tmp_path, text.replace("KERNEL", "35"), "big.yaml"), "T003", 2, "the images are 40x30",
           "W = 35")


@pytest.mark.parametrize(("fragment", "code"), [
    ("outputs: [h, head]\nloss: {type: CrossEntropyLoss}", "V022"),
    ("loss: {type: MSELoss}\ntrain: {early_stopping: {monitor: val_accuracy}}", "V023"),
    ("loss: {type: CrossEntropyLoss}\ntrain: {early_stopping: {monitor: val_r2}}", "V023"),
    ("loss: {type: MSELoss}\ntrain: {class_weights: auto}", "V024"),
    ("loss: {type: BCEWithLogitsLoss}\ntrain: {data: {sampler: balanced}}", "V024"),
])
def test_what_training_cannot_do_is_reported_by_check(fragment: str, code: str) -> None:
    text = ("specc: 1\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Linear, out_features: 8, name: h}\n"
            "  - {type: Linear, out_features: 3, name: head}\n" + fragment + "\noptimizer: {type: Adam}\n")
    spec = specc.loads(text, "t.yaml")
    assert [d.code for d in spec.errors] == [code]
    assert spec.errors[0].loc is not None and spec.errors[0].loc.line >= 6


@pytest.mark.parametrize(("shape", "monitor", "ok"), [
    ("[B, T, 4]", "val_f1", False),  # a tagger is scored by token accuracy alone
    ("[B, T, 4]", "val_token_accuracy", True),
    ("[B, 4]", "val_token_accuracy", False),  # a classifier of samples by accuracy, precision, recall, F1
    ("[B, 4]", "val_f1", True),
])
def test_the_monitors_check_accepts_are_the_metrics_the_loop_computes(shape: str, monitor: str, ok: bool) -> None:
    """Check named val_f1 for a (B, T, K) tagger computed (training then stopped at its first epoch: found
    by the promise fuzz on the zoo's decoder LM)."""
    from specc.backends.train.metrics import compute

    text = (f"specc: 1\ninputs: {{x: {shape}}}\nlayers:\n  - {{type: Linear, out_features: 3}}\n"
            "loss: {type: CrossEntropyLoss, class_dim: -1}\noptimizer: {type: Adam}\n"
            f"train: {{early_stopping: {{monitor: {monitor}}}}}\n")
    spec = specc.loads(text, "t.yaml")
    assert [d.code for d in spec.errors] == ([] if ok else ["V023"])
    rng = np.random.default_rng(0)
    outputs = rng.normal(size=(6, 5, 3) if "T" in shape else (6, 3))
    targets = rng.integers(0, 3, size=outputs.shape[:-1])
    assert (monitor.removeprefix("val_") in compute("classification", outputs, targets, class_dim=-1)) == ok


def test_a_sigmoid_head_fits_targets_in_0_1_in_their_own_units(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 3)).astype(np.float32)
    y = 1 / (1 + np.exp(-(x @ np.array([1.5, -2.0, 0.5]))))
    np.savez(tmp_path / "p.npz", x=x, y=y.astype(np.float32))
    spec = write(tmp_path, """\
        specc: 1
        inputs: {x: [B, 3]}
        layers:
          - {type: Linear, out_features: 1}
          - {type: Sigmoid}
        loss: {type: MSELoss}
        optimizer: {type: Adam, lr: 0.05}
        train: {epochs: 30, batch_size: 32, data: {source: p.npz}}
        """)
    result = specc.train(spec, None)
    assert result.report["preprocess"]["targets"] == "none"  # standardised targets fall outside (0, 1)
    assert result.report["final"]["val_r2"] > 0.95


def test_a_class_weight_list_of_the_wrong_length_is_an_error_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = mlp(tmp_path, "iris", 4, 3)
    spec.write_text(spec.read_text().replace("loss: {type: CrossEntropyLoss}",
                                             "loss: {type: CrossEntropyLoss, weight: [1.0, 2.0]}"))
    rc, _, err = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "run"))
    assert rc == 1 and f"{spec}:" in err and "Traceback" not in err  # at check (if it knows) or before epoch 1
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_ctc_compiles_with_train_and_the_script_trains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path, """\
        specc: 1
        inputs: {frames: [B, 8, 4]}
        layers:
          - {type: Linear, out_features: 4}
          - {type: LogSoftmax, dim: 2}
        loss: {type: CTCLoss}
        optimizer: {type: Adam}
        """)
    assert cli(["compile", str(spec), "--train", "-o", str(tmp_path / "ctc.py")]) == 0  # once E999
    assert "def main" in (tmp_path / "ctc.py").read_text()


def test_predict_reads_npy_and_csv_and_names_the_classes(tmp_path: Path, iris_run: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    run = iris_run
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    np.save(tmp_path / "x.npy", rows)
    (tmp_path / "x.csv").write_text("a,b,c,d\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    for given in ("x.npy", "x.csv"):
        code, out, err = run_cli(capsys, "predict", str(run), "--input", str(tmp_path / given), "--format", "json")
        assert code == 0, err
        answer = json.loads(out)
        assert answer["class"] == ["setosa", "virginica"]
        assert np.allclose(np.sum(answer["probabilities"], axis=1), 1, atol=1e-5)
    code, _, err = run_cli(capsys, "predict", str(run), "--input", "[[1, 2]]")
    # the model is trained: the hint moves the data, not the spec
    assert code == 2 and "takes samples of shape [4]" in err and "give each sample as [4], as the model was" in err


def test_progress_bars_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from specc.backends.train.progress import RichLog
    from specc.cli.train import pick_log

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stderr", io.StringIO())
    plain = pick_log("text")
    assert not getattr(plain, "batches", False)  # a pipe or a file: one plain line per epoch
    plain({"event": "epoch", "epoch": 1, "epochs": 2, "loss": 0.5, "val_loss": 0.25, "seconds": 0.1})
    assert "epoch 1/2  loss 0.5000  val_loss 0.2500" in __import__("sys").stderr.getvalue()
    monkeypatch.setattr("sys.stderr", Tty())
    assert isinstance(pick_log("text"), RichLog)
    assert not isinstance(pick_log("json"), RichLog)  # machines get JSON lines even on a terminal


def test_early_stopping_on_f1_restores_the_best_weights_and_stays_stopped(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    spec = mlp(tmp_path, "iris", 4, 3, epochs=200,
               extra=", early_stopping: {monitor: val_f1, patience: 3, min_delta: 0.001}")
    run = tmp_path / "run"
    result = specc.train(spec, run)
    report = result.report
    assert report["stopped_early"] and "val_f1" in report["stopped_early"]
    assert report["epochs_run"] < 200 and report["best_epoch"] == report["epochs_run"] - 3
    best_f1 = max(r["val_f1"] for r in result.history)
    assert report["best"] == best_f1 and report["final"]["val_f1"] == pytest.approx(best_f1)
    final, best = load_file(str(run / "model.safetensors")), load_file(str(run / "best" / "model.safetensors"))
    assert all(torch.equal(final[k], best[k]) for k in best)  # the best epoch's weights, not the last
    again = specc.train(spec, run, resume=True)
    assert len(again.history) == len(result.history)  # a finished run is not trained further
    assert again.report["stopped_early"] == report["stopped_early"]  # and its report still says why
    assert "stopped early: val_f1 did not improve" in (run / "report.txt").read_text()


@pytest.mark.parametrize(("epochs", "stops"), [(3, False), (4, True)])
def test_patience_spent_at_the_last_epoch_is_a_run_of_all_its_epochs(tmp_path: Path, epochs: int,
                                                                     stops: bool) -> None:
    # min_delta beyond any change: only epoch 1 counts as an improvement, so patience 2 runs out at
    # epoch 3, the last of a 3-epoch run and one before the end of a 4-epoch one
    spec = mlp(tmp_path, "iris", 4, 3, epochs=epochs, extra=", early_stopping: {patience: 2, min_delta: 1000}")
    run = tmp_path / "run"
    report = specc.train(spec, run).report
    assert report["epochs_run"] == 3 and report["best_epoch"] == 1
    assert bool(report["stopped_early"]) == stops
    saved = json.loads((run / "report.json").read_text())
    assert saved["stopped_early"] == report["stopped_early"] and saved["epochs_run"] == 3
    assert ("stopped early" in (run / "report.txt").read_text()) == stops
    again = specc.train(spec, run, resume=True).report  # resumed, the finished run says the same
    assert again["stopped_early"] == report["stopped_early"] and again["epochs_run"] == 3


def test_two_inputs_from_one_npz(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(300, 3)).astype(np.float32), rng.integers(0, 5, size=(300, 4))
    y = ((a[:, 0] > 0) ^ (b[:, 0] >= 3)).astype(np.int64)
    np.savez(tmp_path / "two.npz", feats=a, ids=b, label=y)
    spec = write(tmp_path, """\
        specc: 1
        inputs: {num: [B, 3], tok: {shape: [B, 4], dtype: int64}}
        layers:
          - {type: Embedding, num_embeddings: 5, embedding_dim: 4, from: tok}
          - {type: Flatten, name: emb}
          - {type: Concat, from: [num, emb]}
          - {type: Linear, out_features: 32}
          - {type: ReLU}
          - {type: Linear, out_features: 2}
        loss: {type: CrossEntropyLoss}
        optimizer: {type: Adam, lr: 0.01}
        train: {epochs: 40, data: {source: two.npz, x_key: {num: feats, tok: ids}, y_key: label}}
        """)
    result = specc.train(spec, None)
    assert result.report["preprocess"] == {"input num": "standardize", "input tok": "none", "targets": "none"}
    assert result.report["final"]["val_accuracy"] > 0.9


@pytest.mark.parametrize(("given", "says"), [
    ("[[NaN, 1, 2, 3]]", "NaN or infinite"), ("[[1e400, 1, 2, 3]]", "NaN or infinite"),
    ('[["a", "b", "c", "d"]]', "text such as 'a'"), ("[]", "is not a list of samples"),
    ("[[1, 2, 3, 4], [5]]", "has rows of different lengths"), ('{"x": [[1, 2, 3, 4]]}', "is not a list of samples"),
    ("7", "is not a list of samples"), ("bad.npz", "cannot read bad.npz as a NumPy .npz archive"),
    ("", "neither a file nor a literal"), ("empty.csv", "holds no rows of numbers"),
    ("ragged.csv", "ragged.csv line 2 has 3 values, but the first row has 4"),
    ("words.csv", "words.csv line 1, column 4 holds 'four', which is not a number"),
    ("nothere.npy", "no such file")])
def test_predict_refuses_odd_input_with_a_usage_error(tmp_path: Path, iris_run: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str], given: str, says: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.csv").write_text("a,b,c,d\n")
    (tmp_path / "ragged.csv").write_text("1,2,3,4\n1,2,3\n")
    (tmp_path / "words.csv").write_text("1,2,3,four\n")
    (tmp_path / "bad.npz").write_bytes(b"not a zip archive")
    code, out, err = run_cli(capsys, "predict", str(iris_run), "--input", given, "--format", "json")
    assert code == 2 and says in err and out == "", err  # nothing on stdout: no half answer, no NaN label


def test_predict_with_a_spec_whose_run_is_of_another_spec(tmp_path: Path, iris_run: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(iris_run, tmp_path / "runs" / "wider")
    shutil.copytree(iris_run, tmp_path / "runs" / "renamed")
    wider = mlp(tmp_path, "iris", 4, 3, hidden=16, name="wider.yaml")
    renamed = write(tmp_path, mlp(tmp_path, "iris", 4, 3).read_text().replace("name: Net", "name: Other"),
                    "renamed.yaml")
    for spec, says in ((wider, "does not fit this spec's model"), (renamed, "which this spec does not define")):
        code, _, err = run_cli(capsys, "predict", str(spec), "--input", "[[5.1, 3.5, 1.4, 0.2]]")
        assert code == 2 and says in err and "internal error" not in err, err
    code, _, err = run_cli(capsys, "evaluate", str(iris_run), "--data", "nothere.npz")
    assert code == 2 and "--data nothere.npz" in err


@pytest.mark.parametrize("norm", [True, False])
def test_a_last_batch_of_one_sample_is_left_out_only_for_batchnorm(tmp_path: Path, norm: bool) -> None:
    # 33 samples in batches of 8 leave one over: BatchNorm1d on (1, 16) cannot train on it
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(33, 4)).astype(np.float32), y=rng.integers(0, 2, 33))
    bn = "- {type: BatchNorm1d}\n          " if norm else ""
    spec = write(tmp_path, f"""\
        specc: 1
        inputs: {{x: [B, 4]}}
        layers:
          - {{type: Linear, out_features: 16}}
          {bn}- {{type: ReLU}}
          - {{type: Linear, out_features: 2}}
        loss: {{type: CrossEntropyLoss}}
        optimizer: {{type: Adam, lr: 0.01}}
        train: {{epochs: 2, batch_size: 8, data: {{source: d.npz, val_split: 0}}}}
        """)
    result = specc.train(str(spec), tmp_path / "run")
    notes = [n for n in result.report["notes"] if "batch of one sample" in n]
    assert len(notes) == (1 if norm else 0), result.report["notes"]
    assert result.report["epochs_run"] == 2 and math.isfinite(result.report["final"]["train_loss"])
    steps = json.loads((tmp_path / "run" / "last" / "state.json").read_text())["step"]
    assert steps == 2 * (4 if norm else 5)  # the single sample's batch is a step only without BatchNorm


def test_a_view_that_folds_samples_into_the_batch_is_refused_and_the_hint_trains(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """x.view(-1, 64) on 128 values per sample: check said ok and training crashed as a bug in specc
    (2*B rows for B labels); now T003 at the shape, and the shape the hint writes trains."""
    spec = write(tmp_path, """\
        specc: 1
        inputs: {image: [B, 1, 8, 8]}
        layers:
          - {type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1}
          - {type: MaxPool2d, kernel_size: 2}
          - {type: Reshape, shape: [-1, 64]}
          - {type: Linear, out_features: 10}
        loss: {type: CrossEntropyLoss}
        optimizer: {type: Adam}
        train: {epochs: 1, batch_size: 64, data: {source: digits}}
        """)
    (err,) = specc.load(spec).errors
    assert (err.code, err.loc.line, err.loc.col) == ("T003", 6, 21) and "2*B rows for B labels" in err.message
    assert "write shape: [B, 128]" in (err.hint or "")
    spec.write_text(spec.read_text().replace("[-1, 64]", "[B, 128]"))
    rc, _, out = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "fixed"))
    assert rc == 0, out


def test_a_batch_of_one_is_refused_only_where_batchnorm_sees_one_value_per_channel(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """batch_size: 1 into BatchNorm2d over 4x4 maps trains (16 values per channel); after the global
    pool, BatchNorm1d over (B, C) has one, and PyTorch refused it mid-training (a bug in specc)."""
    head = ("specc: 1\ninputs: {image: [B, 1, 8, 8]}\nlayers:\n"
            "  - {type: Conv2d, out_channels: 4, kernel_size: 3, stride: 2, padding: 1, bias: false}\n"
            "  - {type: BatchNorm2d}\n  - {type: ReLU}\n  - {type: GlobalAvgPool}\n")
    tail = ("  - {type: Linear, out_features: 10}\nloss: {type: CrossEntropyLoss}\n"
            "optimizer: {type: SGD, lr: 0.01}\n"
            "train: {epochs: 1, batch_size: 1, data: {source: synthetic, num_samples: 24}}\n")
    spec = write(tmp_path, head + tail)
    assert specc.load(spec).ok, specc.load(spec).errors
    rc, _, out = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "maps"))
    assert rc == 0, out
    spec = write(tmp_path, head + "  - {type: BatchNorm1d}\n" + tail, "pooled.yaml")
    (err,) = specc.load(spec).errors
    assert err.code == "T008" and "BatchNorm1d 'batch_norm1d_1' one value per channel" in err.message
    assert err.layer == "batch_norm1d_1"


def test_class_probability_targets_are_named_and_get_a_loss_that_reads_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Label-smoothed one-hot rows for CrossEntropyLoss: the hint was 'a regression loss such as MSELoss';
    it now says they are probabilities, and the KLDivLoss it names trains on them."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 40)
    np.savez(tmp_path / "soft.npz", x=rng.standard_normal((40, 4)), y=np.eye(3)[labels] * 0.9 + 0.1 / 3)
    source = str(tmp_path / "soft.npz")
    _fails(capsys, mlp(tmp_path, source, 4, 3, epochs=1), "T006", 8, "class probabilities (rows of 3 that sum to 1)",
           "label_smoothing: 0.1", "loss: {type: KLDivLoss, from_logits: true}")
    spec = mlp(tmp_path, source, 4, 3, loss="KLDivLoss, from_logits: true", epochs=1, name="kl.yaml")
    rc, _, out = run_cli(capsys, "train", str(spec), "--run", str(tmp_path / "kl"))
    assert rc == 0, out


@pytest.mark.parametrize("epochs", [0, -1, 2.5, True, "3"])
def test_the_api_refuses_an_epoch_count_the_cli_would(epochs: object, tmp_path: Path) -> None:
    # 0 once fell back to the spec's epochs and -1 to no epoch at all, both silently
    from specc.backends.train.loop import TrainError

    with pytest.raises(TrainError, match="epochs must be a positive whole number"):
        specc.train(ROOT / "specs" / "xor.yaml", tmp_path / "run", epochs=epochs)  # type: ignore[arg-type]
    assert not (tmp_path / "run").exists()


def test_a_csv_with_two_columns_of_one_name_is_refused_where_the_name_is_used(tmp_path: Path) -> None:
    # header.index() took the first 'a' silently: which copy fed the model was the file's accident
    from specc.data.read import csv_samples

    path = tmp_path / "dup.csv"
    path.write_text("a,note,a,b,note\n1,x,2,3,y\n")
    with pytest.raises(DataError, match=r"dup\.csv has 2 columns named 'a' \(columns 1, 3\)") as err:
        csv_samples(path, ["a", "b"])
    assert "give each column its own name" in err.value.hint
    assert csv_samples(path, ["b"]).tolist() == [[3.0]]  # a repeated column the model does not read is no matter
    for cell in ("1e400", "-inf"):  # infinite, not missing: imputing is not the fix
        path.write_text(f"a,b\n1,{cell}\n")
        with pytest.raises(DataError, match=f"line 2, column 'b' holds {cell}, which is infinite") as err:
            csv_samples(path, ["a", "b"])
        assert "clip" in err.value.hint
    (tmp_path / "train.csv").write_text("a,a,y\n" + "".join(f"{i},{-i},{i % 2}\n" for i in range(8)))
    spec = mlp(tmp_path, "train.csv", 1, 1, loss="MSELoss", epochs=1)
    with pytest.raises(DataError, match="2 columns named 'a'"):
        specc.train(spec, None)


def test_a_confusion_matrix_of_many_classes_is_summarised_not_printed() -> None:
    """1000 classes make a table of a million cells: the text names the most confused pairs and the
    classes recalled least (--format json keeps the matrix)."""
    from specc.cli.train import SHOWN, _confusion_table

    n = 50
    matrix = [[0] * n for _ in range(n)]
    for i in range(n):
        matrix[i][i] = 10
    matrix[3][7] = 9  # the most confused pair, and class 3 the least recalled
    matrix[5][1] = 4
    lines = _confusion_table(matrix, [f"c{i}" for i in range(n)])
    assert len(lines) < 2 * SHOWN + 5
    assert "50 classes" in lines[0] and "--format json" in lines[0]
    assert lines.index("    c3 -> c7: 9") < lines.index("    c5 -> c1: 4")
    low = lines.index("  lowest recall (class: recall of support):")
    assert lines[low + 1] == f"    c3: {10 / 19:.3f} of 19"
    small = _confusion_table([[3, 1], [0, 4]], ["a", "b"])
    assert small[0].startswith("confusion matrix (rows: true class") and len(small) == 2 + 2 + 1 + 2
