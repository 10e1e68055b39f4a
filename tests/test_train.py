"""`specc train` / `specc predict` / `specc evaluate`: the course's systems learn on real data,
the data is checked against the model before the first epoch, preprocessing is fitted on the
training split and travels with the run (predict and the exported ONNX take raw inputs)."""

from __future__ import annotations

import itertools
import json
import math
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
    # Keras' categorical targets: each row's 1 is the class; anything else one-hot-shaped is refused
    from sklearn import datasets

    iris = datasets.load_iris()
    np.savez(tmp_path / "hot.npz", x=iris.data, y=np.eye(3)[iris.target])
    specc.train(mlp(tmp_path, str(tmp_path / "hot.npz"), 4, 3, epochs=40), tmp_path / "run")
    final = json.loads((tmp_path / "run" / "report.json").read_text())["final"]
    assert final["val_accuracy"] >= 0.9, final
    other = tmp_path / "two"
    other.mkdir()
    np.savez(other / "two.npz", x=iris.data, y=np.eye(3)[iris.target] + np.eye(3)[(iris.target + 1) % 3])
    _fails(capsys, mlp(other, str(other / "two.npz"), 4, 3), "T003", 10, "targets have shape [3]")


def test_a_validation_split_that_leaves_too_few_to_train_on(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    spec = mlp(tmp_path, "iris", 4, 3).read_text().replace("val_split: 0.25", "val_split: 0.99")
    _fails(capsys, write(tmp_path, spec), "T007", 10, "leaves 2 to train on, fewer than the 3 classes",
           "use val_split: 0.2")


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
    from specc.backends.train.data import _padding

    masks = _padding((4000, 3), np.random.default_rng(0))
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


def test_images_keep_their_size_where_the_spec_leaves_it_symbolic(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # [B, 3, H, W] without export sizes: the images are read at their own 40x30, not squeezed to
    # 16x16 (the size of made-up data); a size the model cannot take is T003 with the nearest one
    from PIL import Image

    from specc.backends.train.data import load
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
    assert code == 2 and "takes samples of shape [4]" in err


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
    ('[["a", "b", "c", "d"]]', "text such as 'a'"), ("[]", "takes samples of shape [4]"),
    ("", "neither a file nor a literal"), ("empty.csv", "holds no rows of numbers"),
    ("ragged.csv", "different numbers of values"), ("words.csv", "data row 1 is not all numbers"),
    ("nothere.npy", "no such file")])
def test_predict_refuses_odd_input_with_a_usage_error(tmp_path: Path, iris_run: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str], given: str, says: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.csv").write_text("a,b,c,d\n")
    (tmp_path / "ragged.csv").write_text("1,2,3,4\n1,2,3\n")
    (tmp_path / "words.csv").write_text("1,2,3,four\n")
    code, out, err = run_cli(capsys, "predict", str(iris_run), "--input", given, "--format", "json")
    assert code == 2 and says in err and out == "", err  # nothing on stdout: no half answer, no NaN label


def test_predict_with_a_spec_whose_run_is_of_another_spec(tmp_path: Path, iris_run: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

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
