"""Training checked against what a careful user gets by hand: the numbers `specc evaluate` prints
are scikit-learn's on the samples the run was validated on, whatever seed split them off and
however the validation file numbers its classes."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from cli_run import run_cli

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from sklearn import metrics as skm
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

IRIS = """\
    specc: 1
    name: IrisMLP
    inputs: {x: [B, 4]}
    layers:
      - {type: Linear, out_features: 16}
      - {type: ReLU}
      - {type: Linear, out_features: 3}
    loss: {type: CrossEntropyLoss}
    optimizer: {type: Adam, lr: 0.01}
    train: {epochs: EPOCHS, batch_size: 16, data: DATA}
    """


def spec(tmp_path: Path, data: str, epochs: int = 5) -> Path:
    path = tmp_path / "iris.yaml"
    path.write_text(textwrap.dedent(IRIS).replace("EPOCHS", str(epochs)).replace("DATA", data))
    return path


def json_of(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code, out, err = run_cli(capsys, *args, "--format", "json")
    assert code == 0, err
    # train writes one JSON line per epoch and the report last; predict and evaluate one object
    return json.loads(out.strip().splitlines()[-1] if args[0] == "train" else out)


def test_evaluate_scores_the_validation_split_of_the_seed_the_run_used(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    report = json_of(capsys, "train", str(spec(tmp_path, "{source: iris, val_split: 0.3}")), "-o", str(run),
                     "--seed", "7")
    got = json_of(capsys, "evaluate", str(run))
    # the user's own split: scikit-learn's stratified one with the run's seed
    x, y = load_iris(return_X_y=True)
    _, va = train_test_split(np.arange(len(y)), test_size=45, stratify=y, random_state=7)
    np.save(tmp_path / "val.npy", x[va].astype(np.float32))
    labels = np.array(json_of(capsys, "predict", str(run), "--input", str(tmp_path / "val.npy"))["label"])
    truth = y[va]
    assert got["samples"] == len(va)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(truth, labels))
    assert got["f1"] == pytest.approx(skm.f1_score(truth, labels, average="macro"))
    assert got["precision"] == pytest.approx(skm.precision_score(truth, labels, average="macro", zero_division=0))
    assert got["recall"] == pytest.approx(skm.recall_score(truth, labels, average="macro"))
    assert got["confusion_matrix"] == skm.confusion_matrix(truth, labels).tolist()
    final = report["final"]
    assert got["accuracy"] == pytest.approx(final["val_accuracy"]) and got["f1"] == pytest.approx(final["val_f1"])


def test_evaluate_numbers_a_validation_file_lacking_a_class_as_training_did(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    iris = load_iris()
    names = np.asarray(iris.target_names)[iris.target]
    order = np.random.default_rng(0).permutation(len(names))

    def write(name: str, rows: list[int]) -> None:
        with open(tmp_path / name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["sl", "sw", "pl", "pw", "species"])
            w.writerows([*iris.data[i], names[i]] for i in rows)

    write("train.csv", order[:110].tolist())
    val = [int(i) for i in order[110:] if names[i] != "setosa"]  # no setosa: versicolor would read as class 0
    write("val.csv", val)
    run = tmp_path / "run"
    report = json_of(capsys, "train", str(spec(tmp_path, "{source: train.csv, val_source: val.csv}", 20)),
                     "-o", str(run))
    got = json_of(capsys, "evaluate", str(run))
    labels = np.array(json_of(capsys, "predict", str(run), "--input", str(tmp_path / "val.csv"))["label"])
    truth = iris.target[val]
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(truth, labels))
    assert got["accuracy"] == pytest.approx(report["final"]["val_accuracy"]) and got["accuracy"] > 0.8


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_unshuffled_rows_validate_on_the_last_ones_as_scikit_learn_splits_them(task: str) -> None:
    from specc.data.read import Data, split

    n = 50
    y = np.arange(n) % 3 if task == "classification" else np.linspace(0, 1, n, dtype=np.float32)
    cfg = {"task": task, "train": {"data": {"val_split": 0.2, "shuffle": False, "stratify": True}}}
    tr, va = split(cfg, Data({"x": np.zeros((n, 2), np.float32)}, y), seed=0)
    # a time series: train on the past, validate on the latest rows, never the other way round
    want_tr, want_va = train_test_split(np.arange(n), test_size=10, shuffle=False)
    assert tr.tolist() == want_tr.tolist() and va.tolist() == want_va.tolist()
    cfg["train"]["data"]["shuffle"] = True
    tr, va = split(cfg, Data({"x": np.zeros((n, 2), np.float32)}, y), seed=0)
    assert len(va) == 10 and sorted([*tr, *va]) == list(range(n)) and va.tolist() != want_va.tolist()


HUBER = """\
    specc: 1
    inputs: {x: [B, 10]}
    layers:
      - {type: Linear, out_features: 8}
      - {type: ReLU}
      - {type: Linear, out_features: 1}
    loss: LOSS
    optimizer: {type: Adam}
    train: {data: {source: diabetes}PRE}
    """


@pytest.mark.parametrize(("loss", "pre", "col"), [
    ("{type: HuberLoss, delta: 10}", "", 32),
    ("{type: SmoothL1Loss, beta: 0.1}", "", 34),
    ("{type: HuberLoss, delta: 10}", ", preprocess: {targets: standardize}", None),  # the user says so
    ("{type: HuberLoss, delta: 10}", ", preprocess: {targets: none}", None),  # delta in the targets' units
    ("{type: HuberLoss}", "", None),  # delta 1: one standard deviation, specc's reading of the default
    ("{type: MSELoss}", "", None),
])
def test_a_huber_delta_read_in_standard_deviations_is_a_warning(loss: str, pre: str, col: int | None) -> None:
    import specc

    spec = specc.loads(textwrap.dedent(HUBER).replace("LOSS", loss).replace("PRE", pre), "huber.yaml")
    assert spec.ok
    found = [d for d in spec.diagnostics if d.code == "T017"]
    if col is None:
        assert found == []
        return
    (d,) = found
    assert d.severity == "warning" and (d.loc.line, d.loc.col) == (7, col)  # at the delta
    assert "standard deviation" in d.message and "targets: none" in d.hint


def test_a_huber_delta_of_10_on_standardised_diabetes_targets_is_half_the_mse() -> None:
    # why T017 warns: every residual of a model answering the mean is within 10 standard deviations
    torch = pytest.importorskip("torch")
    from sklearn.datasets import load_diabetes

    _, y = load_diabetes(return_X_y=True)
    z = torch.tensor((y - y.mean()) / y.std())
    zero = torch.zeros_like(z)
    huber = torch.nn.HuberLoss(delta=10.0)(zero, z)
    assert huber == pytest.approx(0.5 * torch.nn.MSELoss()(zero, z))
    assert torch.nn.HuberLoss(delta=10.0)(zero + y.mean(), torch.tensor(y)) < 0.5 * torch.nn.MSELoss()(
        zero + y.mean(), torch.tensor(y))  # in the targets' units it is robust, as the user meant


def test_an_unreduced_loss_is_refused_by_check_or_by_train_before_any_epoch(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import specc

    text = textwrap.dedent(IRIS).replace("EPOCHS", "1").replace("DATA", "{source: iris}").replace(
        "{type: CrossEntropyLoss}", "{type: CrossEntropyLoss, reduction: none}")
    assert [d.code for d in specc.loads(text, "net.yaml").diagnostics if d.severity == "error"] == ["T018"]
    # without a train section the spec may feed a loop of the user's own; specc's loop refuses it, located
    bare = tmp_path / "bare.yaml"
    bare.write_text(text[:text.index("train:")])
    assert specc.load(bare).ok
    code, _, err = run_cli(capsys, "train", str(bare), "-o", str(tmp_path / "run"))
    assert code == 1 and "bare.yaml:8:7: error[T018]" in err and "internal error" not in err, err


def test_a_summed_loss_is_reported_per_sample_as_a_mean_is(tmp_path: Path) -> None:
    import torch

    import specc

    path = spec(tmp_path, "{source: iris, val_split: 0.2}", 2)
    path.write_text(path.read_text().replace("{type: CrossEntropyLoss}", "{type: CrossEntropyLoss, reduction: sum}"))
    result = specc.train(path)
    x, y = load_iris(return_X_y=True)
    _, va = train_test_split(np.arange(len(y)), test_size=30, stratify=y, random_state=0)
    xs = result.preprocessing.apply_inputs({"x": x[np.sort(va)].astype(np.float32)})["x"]
    result.model.eval()
    with torch.no_grad():  # the mean over the validation samples, whatever the reduction trained with
        want = torch.nn.functional.cross_entropy(result.model(torch.from_numpy(xs)), torch.from_numpy(y[np.sort(va)]))
    # batches of 16: a sum counted once per batch row was 16 times this
    assert result.report["final"]["val_loss"] == pytest.approx(float(want), rel=1e-5)
    assert result.history[-1]["val_loss"] == pytest.approx(float(want), rel=1e-5)
