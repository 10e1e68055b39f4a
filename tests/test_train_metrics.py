"""The binary task's metrics on maps and on labels, and metrics that have no value: shown as
n/a, written as null, and never taken for an improvement by early stopping."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from sklearn import metrics as skm

from specc.backends.train import metrics
from specc.cli import main as cli


def test_a_mask_is_one_binary_problem_over_its_pixels() -> None:
    rng = np.random.default_rng(0)
    truth = (rng.random((6, 1, 5, 7)) > 0.5).astype(np.float32)
    scores = rng.normal(size=(6, 1, 5, 7)).astype(np.float32) + truth  # informative, not perfect
    got = metrics.compute("binary", scores, truth, threshold=0.0)
    y, s = truth.reshape(-1), scores.reshape(-1)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert got["f1"] == pytest.approx(skm.f1_score(y, s > 0))
    assert got["confusion_matrix"] == skm.confusion_matrix(y, s > 0).tolist()


def test_a_multichannel_map_averages_its_channels_over_pixels() -> None:
    rng = np.random.default_rng(1)
    truth = (rng.random((4, 3, 6, 6)) > 0.5).astype(np.float32)
    scores = rng.normal(size=truth.shape).astype(np.float32) + truth
    got = metrics.compute("binary", scores, truth, threshold=0.0)
    per = [skm.roc_auc_score(truth[:, c].reshape(-1), scores[:, c].reshape(-1)) for c in range(3)]
    assert got["roc_auc"] == pytest.approx(np.mean(per))


def test_multilabel_auc_skips_labels_with_one_class_and_is_nan_only_when_none_has_two() -> None:
    truth = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1]], dtype=np.float32)  # labels 1 and 2: one class
    scores = np.array([[0.9, 0.1, 0.8], [0.2, 0.3, 0.7], [0.7, 0.2, 0.9]], dtype=np.float32)
    assert metrics.compute("binary", scores, truth)["roc_auc"] == pytest.approx(1.0)
    assert math.isnan(metrics.compute("binary", scores[:, 1:], truth[:, 1:])["roc_auc"])
    assert metrics.shown(math.nan) == "n/a" and metrics.shown(0.5) == "0.5"


def test_a_binary_split_of_one_class_has_no_recall_and_no_auc() -> None:
    negatives = np.zeros((4, 1), dtype=np.float32)
    quiet = metrics.compute("binary", np.full((4, 1), -2.0, np.float32), negatives, threshold=0.0)
    # right on every sample, but nothing positive to find nor answered: 0/0, not 0
    assert quiet["accuracy"] == 1.0
    assert all(math.isnan(quiet[k]) for k in ("precision", "recall", "f1", "roc_auc")), quiet
    wrong = metrics.compute("binary", np.array([[2.0], [-2.0], [-2.0], [-2.0]], np.float32), negatives, threshold=0.0)
    # one positive answered, wrongly: its precision is 0 (and F1 = 2TP / (2TP + FP + FN) = 0); recall stays 0/0
    assert wrong["precision"] == 0.0 and wrong["f1"] == 0.0 and math.isnan(wrong["recall"])
    positives = metrics.compute("binary", np.full((4, 1), 2.0, np.float32), np.ones((4, 1), np.float32), 0.0)
    assert positives["precision"] == positives["recall"] == positives["f1"] == 1.0 and math.isnan(positives["roc_auc"])


def test_macro_metrics_leave_out_what_a_class_does_not_define() -> None:
    # a 3-class model evaluated on a split without class 2, answering class 2 once: class 2's recall
    # is 0/0 and left out of the macro mean; its precision (0 of 1 right) is 0 and counts
    truth = np.array([0, 0, 1, 1])
    logits = np.eye(3, dtype=np.float32)[[0, 2, 1, 1]]
    got = metrics.compute("classification", logits, truth)
    p, r, f, _ = skm.precision_recall_fscore_support(truth, [0, 2, 1, 1], labels=[0, 1, 2], average=None,
                                                     zero_division=np.nan)
    assert got["recall"] == pytest.approx((1 / 2 + 1) / 2) and math.isnan(r[2])
    assert got["precision"] == pytest.approx((1 + 1 + 0) / 3) == pytest.approx(np.nanmean(p))
    assert got["f1"] == pytest.approx(np.mean(f))
    perfect = metrics.compute("classification", np.eye(3, dtype=np.float32)[[0, 1, 1]], np.array([0, 1, 1]))
    assert perfect["precision"] == perfect["recall"] == perfect["f1"] == 1.0  # class 2 neither present nor answered


def test_r2_of_a_constant_target_is_undefined_not_scikit_learns_0_or_1() -> None:
    const = np.full((5, 1), 3.0, np.float32)
    assert math.isnan(metrics.compute("regression", const + 1, const)["r2"])
    assert math.isnan(metrics.compute("regression", const, const)["r2"])  # force_finite would say 1.0
    varied = np.arange(5, dtype=np.float32).reshape(5, 1)
    both = metrics.compute("regression", np.hstack([const + 1, varied + 0.5]), np.hstack([const, varied]))
    assert both["r2"] == pytest.approx(skm.r2_score(varied, varied + 0.5))  # over the target that varies


def test_token_accuracy_with_every_position_ignored_is_undefined() -> None:
    out = metrics.compute("classification", np.zeros((2, 3, 4), np.float32), np.full((2, 4), -100))
    assert math.isnan(out["token_accuracy"]) and math.isnan(out["accuracy"])


def test_a_binary_run_validated_on_one_class_reports_n_a(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(120, 2))
    y = (x[:, 0] > 0).astype(int)
    (tmp_path / "t.csv").write_text("a,b,label\n" + "".join(f"{a:.4f},{b:.4f},{c}\n" for (a, b), c in zip(x, y)))
    (tmp_path / "v.csv").write_text("a,b,label\n" + "".join(  # far from the boundary, all negative
        f"{-3 - abs(a):.4f},{b:.4f},0\n" for a, b in x[:12]))
    spec = tmp_path / "bin.yaml"
    spec.write_text(textwrap.dedent("""\
        specc: 1
        inputs: {x: [B, 2]}
        layers:
          - {type: Linear, out_features: 8}
          - {type: ReLU}
          - {type: Linear, out_features: 1}
        loss: {type: BCEWithLogitsLoss}
        optimizer: {type: Adam, lr: 0.05}
        train: {epochs: 15, batch_size: 16, data: {source: t.csv, features: [a, b], target: label, val_source: v.csv}}
        """))
    run = tmp_path / "run"
    assert cli(["train", str(spec), "-o", str(run)]) == 0
    printed = capsys.readouterr()
    assert "nan" not in (printed.out + printed.err).lower()
    report = json.loads((run / "report.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    final = report["final"]
    assert final["val_accuracy"] == 1.0 and final["val_recall"] is None and final["val_roc_auc"] is None
    assert final["val_precision"] is None and final["val_f1"] is None  # nothing positive answered either
    text = (run / "report.txt").read_text()
    assert "val_recall n/a" in text and "val_precision n/a" in text and "nan" not in text.lower()
    history = (run / "history.csv").read_text()
    assert "nan" not in history.lower() and "n/a" in history


def test_an_undefined_monitor_is_shown_noted_and_written_as_null(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "tags.yaml"
    spec.write_text(textwrap.dedent("""\
        specc: 1
        name: Tags
        inputs:
          x: [B, 6]
        layers:
          - {type: Linear, out_features: 8}
          - {type: ReLU}
          - {type: Linear, out_features: 4, name: tags}
        loss: {type: BCEWithLogitsLoss}
        optimizer: {type: Adam}
        train:
          epochs: 3
          batch_size: 4
          early_stopping: {monitor: val_roc_auc, patience: 1}
          data: {source: synthetic, num_samples: 5, val_split: 0.2}
        """))
    run = tmp_path / "run"
    assert cli(["train", str(spec), "-o", str(run)]) == 0
    printed = capsys.readouterr()
    assert "nan" not in (printed.out + printed.err).lower()
    assert "val_roc_auc n/a" in printed.out + printed.err
    report = json.loads((run / "report.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert report["final"]["val_roc_auc"] is None
    # one validation sample: no label has both classes, so no epoch improves on the first one and
    # patience 1 stops after the second; the note says why
    assert report["epochs_run"] == 2 and report["best_epoch"] == 1 and report["best"] is None
    assert any("val_roc_auc was undefined (n/a) in 2 of 2 epochs (1-2)" in n for n in report["notes"])
    assert "note: val_roc_auc was undefined" in (run / "report.txt").read_text()


def test_regression_metrics_of_several_targets_are_scikit_learns() -> None:
    from sklearn.datasets import load_linnerud

    _, y = load_linnerud(return_X_y=True)  # weight ~180, waist ~35, pulse ~55: ranges far apart
    p = y + np.random.default_rng(0).normal(size=y.shape) * [20.0, 3.0, 5.0]
    got = metrics.compute("regression", p.astype(np.float32), y.astype(np.float32))
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, p), rel=1e-5)
    assert got["rmse"] != pytest.approx(math.sqrt(skm.mean_squared_error(y, p)), rel=0.1)  # not the pooled root
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-5)
    assert got["r2"] == pytest.approx(skm.r2_score(y, p), rel=1e-5)
    one = metrics.compute("regression", p[:, :1].astype(np.float32), y[:, :1].astype(np.float32))
    assert one["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y[:, 0], p[:, 0])), rel=1e-5)
