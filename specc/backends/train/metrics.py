"""The task's metrics, computed with scikit-learn from a whole split's outputs."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np


def compute(task: str, outputs: np.ndarray, targets: np.ndarray, threshold: float = 0.5,
            class_dim: int = 1) -> dict[str, Any]:
    """Metrics of one split: outputs as the model gives them (logits or probabilities), a
    classifier's classes at ``class_dim`` (the last dim of a tagger's (B, T, K) under class_dim: -1)."""
    from sklearn import metrics as skm

    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns of each undefined value; they are NaN here
        if task == "classification":
            if class_dim != 1:
                outputs = np.moveaxis(outputs, class_dim, 1)
            pred = outputs.argmax(1)
            if outputs.ndim > 2:  # a tagger: one class per position
                y, p = targets.reshape(-1), pred.reshape(-1)
                keep = y >= 0  # ignore_index positions (-100) are padding
                out["token_accuracy"] = float(skm.accuracy_score(y[keep], p[keep])) if keep.any() else math.nan
                out["accuracy"] = out["token_accuracy"]
                return out
            labels = list(range(outputs.shape[1]))
            out["accuracy"] = float(skm.accuracy_score(targets, pred))
            # macro over the classes the split holds or the model answers (scikit-learn's default): a
            # class absent from both would count as precision and recall 0 (a 2-class evaluation of
            # a 3-class model, right on every sample, would score 0.67)
            seen = sorted(set(np.unique(targets).tolist()) | set(np.unique(pred).tolist()))
            out.update(_precision_recall_f1(targets, pred, seen))
            out["confusion_matrix"] = skm.confusion_matrix(targets, pred, labels=labels).tolist()
            return out
        if task == "binary":
            truth, scores = _labels_by_column(targets, outputs)
            # a binary FocalLoss's ignore_index (a negative target, such as -1) marks a label missing:
            # the loss skips it, and so does each metric, where counting it would score it a negative
            known = truth >= 0
            pred = (scores > threshold).astype(np.int64)
            truth = (truth > 0.5).astype(np.int64)
            out["accuracy"] = float((pred == truth)[known].mean()) if known.any() else math.nan
            if truth.shape[1] == 1:
                t, p = truth[known[:, 0], 0], pred[known[:, 0], 0]
                out.update(_precision_recall_f1(t, p, [1]))  # of the positive class
                out["confusion_matrix"] = skm.confusion_matrix(t, p, labels=[0, 1]).tolist()
            elif known.all():  # multi-label: each label's positive class
                out.update(_precision_recall_f1(truth, pred, None))
            else:
                each = [_precision_recall_f1(truth[known[:, j], j], pred[known[:, j], j], [1])
                        for j in range(truth.shape[1])]
                out.update({k: _mean_defined(np.array([e[k] for e in each])) for k in ("precision", "recall", "f1")})
            out["roc_auc"] = _macro_auc(truth, scores, known)
            return out
        if task == "regression":
            y, p = targets.reshape(len(targets), -1), outputs.reshape(len(outputs), -1)
            out["mae"] = float(skm.mean_absolute_error(y, p))
            # several targets: each one's RMSE, averaged, as scikit-learn's root_mean_squared_error (and
            # its R²) average them; the root of the pooled MSE would let the widest-ranged target dominate
            out["rmse"] = float(np.sqrt(skm.mean_squared_error(y, p, multioutput="raw_values")).mean())
            # R² divides by the target's variance: a constant target (or one sample) has none, and
            # scikit-learn's force_finite would call it 1 or 0; averaged over the targets that vary
            r2 = skm.r2_score(y, p, multioutput="raw_values", force_finite=False) if len(y) > 1 else []
            out["r2"] = _mean_defined(np.asarray(r2, dtype=np.float64))
            return out
    return out


def _mean_defined(values: np.ndarray) -> float:
    """The mean of the finite values (an undefined one is left out, not counted as 0); NaN when
    none is."""
    kept = values[np.isfinite(values)]
    return float(kept.mean()) if kept.size else math.nan


def _precision_recall_f1(truth: np.ndarray, pred: np.ndarray, labels: list[int] | None) -> dict[str, float]:
    """Precision, recall and F1 of each class in ``labels`` (each column's positive class for
    multi-label indicators, ``labels`` None), macro-averaged over the classes where each is defined:
    precision of a class never answered and recall of a class absent from the split are 0/0, not 0
    (a validation split with one class would score recall 0 for a perfect model). F1 is
    2TP / (2TP + FP + FN), undefined only for a class neither present nor answered."""
    from sklearn import metrics as skm

    p, r, f, _ = skm.precision_recall_fscore_support(truth, pred, labels=labels, average=None,
                                                     zero_division=np.nan)
    return {"precision": _mean_defined(np.asarray(p, dtype=np.float64)),
            "recall": _mean_defined(np.asarray(r, dtype=np.float64)),
            "f1": _mean_defined(np.asarray(f, dtype=np.float64))}


def _labels_by_column(targets: np.ndarray, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A binary task's truth and scores as (samples, labels): (B,) and (B, L) as they are (L labels
    of a multi-label classifier); a dense map (B, C, *positions) -- a segmentation mask, a patch
    discriminator -- with each position a sample of its channel's label, so that a mask's pixels
    are pooled rather than each pixel taken for a label of its own."""
    if outputs.ndim <= 2:
        return targets.reshape(len(targets), -1), outputs.reshape(len(outputs), -1)
    channels = outputs.shape[1]

    def by_channel(a: np.ndarray) -> np.ndarray:
        return np.moveaxis(a.reshape(outputs.shape), 1, -1).reshape(-1, channels)

    return by_channel(targets), by_channel(outputs)


def _macro_auc(truth: np.ndarray, scores: np.ndarray, known: np.ndarray) -> float:
    """ROC AUC averaged over the labels for which it is defined (both classes present among the
    ``known`` entries); NaN when none is (shown as undefined, never as a number)."""
    from sklearn import metrics as skm

    columns = [(truth[known[:, j], j], scores[known[:, j], j]) for j in range(truth.shape[1])]
    aucs = [skm.roc_auc_score(t, s) for t, s in columns if 0 < t.sum() < len(t)]
    return float(np.mean(aucs)) if aucs else math.nan


def defined(value: Any) -> bool:
    """Whether a metric has a value: an undefined one (the AUC of a split with one class, the R²
    of one sample) is NaN."""
    return not (isinstance(value, float) and math.isnan(value))


def shown(value: float, spec: str = ".4g") -> str:
    """A metric for people (formatted by ``spec``): an undefined one as n/a, never as nan."""
    return format(value, spec) if defined(value) else "n/a"
