"""Checks of the data against the model and the loss, run before the first epoch.

Each failure is a DataError (code, sentence, fix, spec key) that the CLI prints at the spec's
line; nothing has been trained when it is raised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..validate.run_size import SHUFFLE_FIX, unshuffled_sorted
from ..validate.train_config import classes_at, head, own_masks, scaling
from .read import Data, DataError, check_finite, ctc_steps, load, split, validation_size


def training_data(cfg: dict[str, Any], base: Path, seed: int, *, draw: bool = True,
                  rows: int | None = None) -> tuple[Data, Data, Data]:
    """The data a run reads (all of it, the training split, the validation split), each problem a
    DataError: what `specc train` does before its first epoch and `specc check` does to answer for
    it. ``draw`` false (check) sizes the split without drawing it (a stratified draw needs
    scikit-learn): the whole data is checked as the training part. ``rows`` reads that many samples
    of each file only (check, over its size limit), and leaves the split unsized."""
    dcfg = cfg["train"]["data"]
    rng = np.random.default_rng(seed)
    full = load(dcfg["source"], cfg, base, rng, rows=rows)
    masks = cfg.get("masks") or {}
    check_finite(full, str(dcfg["source"]), own_masks(cfg))
    hidden_rows(masks, full, str(dcfg["source"]))
    if dcfg["val_source"]:
        train, val = full, load(dcfg["val_source"], cfg, base, rng, validation=True, known=full.reading(), rows=rows)
        check_finite(val, str(dcfg["val_source"]), own_masks(cfg))
        hidden_rows(masks, val, str(dcfg["val_source"]))
    elif draw:
        tr, va = split(cfg, full, seed)
        train, val = full.take(tr), full.take(va)
    else:
        if rows is None:
            validation_size(cfg, full)
        train, val = full, full.take(np.arange(0))
    if len(train) == 0:
        raise DataError("T003", "the training split is empty", "use more data or a smaller val_split", "data")
    check_data(cfg, train, val)
    _watchable(cfg, val)
    return full, train, val


# the share of a sequence's positions whose target is the input's next step, from which the
# targets read as the inputs shifted by one (a language model's, a one-step-ahead forecast's)
SHIFTED = 0.9


def next_step_leak(cfg: dict[str, Any], d: Data) -> list[tuple[str, str, str]]:
    """(message, hint, where) for a model trained to predict each step's next value (the targets are
    an input shifted one step: y[:, t] = x[:, t + 1], token ids or a series' feature) through a layer
    that lets step t read the steps after it (cfg["lookahead"]: self-attention without a causal mask,
    a bidirectional recurrent layer). Step t then reads x[t + 1], its own target: the loss falls to
    almost 0 and generation, or a forecast past the data, has no next step to copy."""
    y = d.targets
    if isinstance(y, dict) or not cfg.get("lookahead") or y.ndim < 2 or y.shape[1] < 3 or not len(y):
        return []
    y2 = y.reshape(y.shape[0], y.shape[1], -1)
    if y2.shape[2] != 1:
        return []
    target = y2[:, :-1, 0]
    for one in cfg["lookahead"]:
        for name in one["inputs"]:
            x = d.inputs.get(name)
            if x is None or x.ndim < 2 or x.shape[:2] != y.shape[:2]:
                continue
            following = x[:, 1:].reshape(len(x), x.shape[1] - 1, -1)
            same = np.isclose(following, target[..., None], rtol=1e-5, atol=1e-6) if x.dtype.kind == "f" or \
                y.dtype.kind == "f" else following == target[..., None]
            share = float(same.mean(axis=(0, 1)).max())
            if share < SHIFTED:
                continue
            what = "token" if x.dtype.kind in "iu" else "value"
            reads = ("attends to every step (no causal mask)" if one["fix"] == "set causal: true" else
                     "reads the sequence backwards too")
            return [(f"the targets are input {name!r} one step ahead (y[:, t] = {name}[:, t + 1] at {share:.0%} of "
                     f"the positions): a next-{what} model, but {one['type']} '{one['name']}' {reads}, so step t "
                     "reads its own target: the loss falls to almost 0 and prediction past the data, with no next "
                     "step to copy, fails",
                     f"{one['fix']} on {one['type']} '{one['name']}'", f"layer.{one['name']}")]
    return []


def _inverted(hidden: np.ndarray) -> bool:
    """A (samples, keys) padding mask that reads as a tokenizer's attention_mask: hidden keys first
    in every row, then the shown ones (inverted right padding), and some rows hidden whole."""
    return bool(hidden.all(axis=1).any() and (np.diff(hidden.astype(np.int8), axis=1) <= 0).all())


COMPARE = {"eq": np.equal, "ne": np.not_equal, "gt": np.greater, "ge": np.greater_equal, "lt": np.less,
           "le": np.less_equal}
SYMBOL = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def hidden_rows(masks: dict[str, str], d: Data, source: str) -> None:
    """T089 for a sample whose attention mask hides every key of a row (true, or -inf in an additive
    mask, all along its last dim): a sequence of nothing but padding, a query allowed no key. The
    Softmax over that row is 0/0, PyTorch's attention and a -inf MaskedFill give nan there, and the
    loss turns nan at the first batch that holds the sample. (A finite fill such as -1e9 spreads the
    row evenly instead, and is not refused.)"""
    for name, kind in masks.items():
        m = d.inputs.get(name)
        kind, *compared = kind.split("|")
        if compared and m is not None and m.dtype.kind in "iufb":
            op, value = compared[0], float(compared[1])
            m = COMPARE[op](m, value)  # the mask the model makes of the input (ids == pad_id)
        if m is None or m.ndim < 2 or not len(m) or m.dtype.kind not in "bf":
            continue
        hidden = m.astype(bool) if m.dtype.kind == "b" else m == -np.inf
        if "key_padding" in kind and m.ndim == 2 and m.shape[1] > 1 and _inverted(hidden):
            continue  # a tokenizer's mask fed as it is: T086 names that cause and its fix
        whole = hidden.all(axis=-1).reshape(len(m), -1).any(axis=1)
        if not whole.any():
            continue
        first, count = int(np.argmax(whole)), int(whole.sum())
        what = ("key-padding mask" if "key_padding" in kind else "attention mask") + (
            f" made of {name!r} ({name} {SYMBOL[compared[0]]} {compared[1]})" if compared else f" {name!r}")
        row = "all its keys" if m.ndim == 2 else "all the keys of a query"
        raise DataError("T089", f"the {what} of {source} hides {row} in {count} of {len(m)} samples (the "
                        f"first is sample {first}): the Softmax over a row with no key left is 0/0, so attention "
                        "gives nan there and the loss turns nan at the first batch that holds the sample",
                        "drop the samples of nothing but padding from the data (or keep one key, such as a [CLS] "
                        "or end-of-sequence token, unmasked in every sample)", f"inputs.{name}")


def _watchable(cfg: dict[str, Any], val: Data) -> None:
    """V020 where early stopping watches a metric that validation data cannot define: the ROC AUC
    of data of one class, the recall of binary data without a positive sample, the R² of targets
    that do not vary. Every epoch would count as no improvement, and the run stop after `patience`
    epochs whatever it learns. A val_source only, which check reads as training does; a split is
    drawn by training alone (check would have said ok), which trains on and says so in the
    report's notes."""
    stopper = cfg["train"].get("early_stopping")
    if not stopper or not len(val) or isinstance(val.targets, dict) or not cfg["train"]["data"]["val_source"]:
        return
    monitor, task = stopper["monitor"], cfg["task"]
    if task == "binary" and monitor in ("val_roc_auc", "val_recall"):
        truth = np.asarray(val.targets).reshape(len(val), -1) > 0.5
        if monitor == "val_roc_auc" and (truth.all(axis=0) | ~truth.any(axis=0)).all():
            why = "hold one class only, where the ROC AUC is undefined"  # each label of one class
        elif monitor == "val_recall" and not truth.any():
            why = "hold no positive sample, whose recall (found / present) is 0/0"
        else:
            return
        fix = "monitor val_loss, or validate on data of both classes"
    elif task == "regression" and monitor == "val_r2":
        y = np.asarray(val.targets, dtype=np.float64).reshape(len(val), -1)
        if not (np.ptp(y, axis=0) == 0).all():
            return
        why = "have targets that do not vary, whose R² (1 - error / variance) divides by 0"
        fix = "monitor val_loss, or validate on data whose targets vary"
    else:
        return
    raise DataError("V020", f"the {len(val)} validation samples of val_source {why}: early stopping on {monitor} "
                    f"would count every epoch as no improvement and stop after {stopper['patience']} epochs "
                    "whatever the model learns", fix, "early_stopping")


def data_warnings(full: Data, val: Data) -> list[tuple[str, str, str, str]]:
    """What reading the data found that trains, but perhaps not as meant: (code, message, hint, spec key)."""
    return [*full.meta.get("warnings", []), *(val.meta.get("warnings", []) if val.meta is not full.meta else [])]


def check_data(cfg: dict[str, Any], train: Data, val: Data) -> None:
    for part in (train, val):
        if not len(part):
            continue
        if isinstance(part.targets, dict):  # a loss per output: each output's targets against its loss
            for name, y in part.targets.items():
                _check(head(cfg, name), Data(part.inputs, y, part.lengths))
        else:
            _check(cfg, part)


def _binary_fix(y: np.ndarray, low: float, high: float) -> str:
    """The fix for yes/no targets outside [0, 1], from the values they hold: -1/+1 labels (an SVM's, a
    tanh head's), -1 marking a missing label beside 0/1, or 8-bit pixels (a mask saved as 0/255)."""
    values = set(np.unique(y[np.isfinite(y)]).tolist()) if high - low <= 255 else set()
    if values and values <= {-1.0, 1.0}:
        return "the targets are -1/+1 labels: map them to 0/1 with (y + 1) / 2 before training"
    if values and values <= {-1.0, 0.0, 1.0}:
        return ("if -1 marks a missing label, use loss: {type: FocalLoss, mode: binary, gamma: 0, ignore_index: -1} "
                "on raw logits (BCEWithLogitsLoss that skips those entries); else map the targets to 0/1")
    if low >= 0 and 127 < high <= 255:
        return ("the targets look like 8-bit pixel values (a mask saved as 0/255, an image as 0 to 255): divide "
                "them by 255 (y / 255); for class indices use CrossEntropyLoss")
    return "use 0/1 labels (or probabilities); for class indices use CrossEntropyLoss"


def _measured(labels: np.ndarray) -> str:
    """Why whole-number targets read as class ids look like a regression's values ("" when they do
    not): about one sample per class, as diabetes' 25 to 346 for 354 samples.  (Fractional targets
    are T006 before this.)"""
    n_classes = int(labels.max()) + 1
    if n_classes > 20 and n_classes > labels.size / 2:
        return (f"{n_classes} classes for {labels.size} samples, {len(np.unique(labels))} values seen from "
                f"{int(labels.min())} to {n_classes - 1}: about one sample per class")
    return ""


def _ctc_spellable(cfg: dict[str, Any], d: Data) -> None:
    """T006 for a transcript longer than the model's output steps can spell: a target of n labels
    with r repeats (a blank must separate them) needs n + r steps. CTC gives such a sample an
    infinite loss, and the run stopped at its first batch with "the loss became nan"."""
    sizes = dict(cfg["sizes"])
    for name, x in d.inputs.items():  # the data's own sizes: the output's steps depend on them
        sizes.update({s: n for s, n in zip(cfg["inputs"][name]["shape"][1:], x.shape[1:]) if isinstance(s, str)})
    steps = ctc_steps(cfg, sizes)[0]
    y, lengths = d.targets, d.lengths
    assert lengths is not None
    for row, n in zip(y, lengths):
        need = int(n) + int(np.count_nonzero(row[1:n] == row[:n - 1])) if n > 1 else int(n)
        if need > steps:
            at = ", ".join(f"{s}={v}" for s, v in sizes.items() if s in _symbols_of(cfg)) or "its fixed size"
            raise DataError("T006", f"a CTC target of {int(n)} labels needs {need} output steps (a blank "
                            f"between repeated labels), but the model gives {steps} steps for inputs at {at}",
                            "shorten the transcripts, keep more output steps (less striding or pooling over time), "
                            "or set zero_infinity: true in the loss to skip the targets it cannot spell", "source")


def _symbols_of(cfg: dict[str, Any]) -> set[str]:
    return {s for t in cfg["inputs"].values() for s in t["shape"][1:] if isinstance(s, str)}


def _void_label(labels: np.ndarray, width: object) -> int | None:
    """The one value of class labels outside 0..width-1 that stands apart from the rest (past a gap
    above them, or below 0), the way datasets mark positions to skip; None when there is none."""
    fractional = np.issubdtype(labels.dtype, np.floating) and not np.all(labels == np.round(labels))
    if not isinstance(width, int) or not labels.size or fractional:
        return None
    outside = np.unique(labels[(labels < 0) | (labels >= width)])
    if len(outside) != 1:
        return None
    v, inside = int(outside[0]), labels[(labels >= 0) & (labels < width)]
    if not inside.size or (v >= 0 and v <= int(inside.max()) + 1):
        return None  # 0..width with nothing missing: one class too many, not a marker
    return v


def _check(cfg: dict[str, Any], d: Data) -> None:
    task, loss = cfg["task"], (cfg["loss"] or {})
    out = next(iter(cfg["outputs"].values()))
    out_name = next(iter(cfg["outputs"]))
    y = d.targets
    if task == "classification":
        width = out[classes_at(cfg)] if len(out) > classes_at(cfg) else None
        ignore = loss.get("ignore_index", -100)
        labels = y[y != ignore]
        void = _void_label(labels, width)
        if void is not None and void > 1 and not (labels[labels != void] != 0).any():
            # 0 and 255 only: a yes/no mask saved as an 8-bit image, 255 its foreground; skipping the
            # 255s as void would train on background alone
            raise DataError("T005", f"the targets hold only 0 and {void}: a yes/no mask saved as an image, where "
                            f"{void} marks the foreground, not positions to leave out",
                            f"divide the masks by {void} (labels 0 and 1)" + (
                                "" if width == 2 else f" and give the last layer 2 outputs (it gives {width})"),
                            "source")
        if void is not None:
            raise DataError("T006" if void < 0 else "T005",
                            f"the targets hold {void} beside the classes 0 to {int(labels[labels != void].max())}: "
                            "a lone label apart from the others marks positions to leave out (the void border of "
                            "a VOC mask is 255, unlabelled points -1)",
                            f"set ignore_index: {void} in the loss ({loss.get('type')} then skips those positions)",
                            "loss")
        if labels.size and labels.min() < 0:
            raise DataError("T006", f"class labels must be 0 or more, but the targets hold {int(labels.min())}",
                            "number the classes 0, 1, 2, …", "loss")
        if isinstance(width, int) and labels.size and labels.max() >= width:
            n = int(labels.max()) + 1
            if labels.min() == 1 and n == width + 1:
                # numbered from 1 (R, MATLAB, a spreadsheet): exactly one class too many, none of them 0
                raise DataError("T005", f"the targets number the classes 1 to {width}, but class ids count from 0 "
                                f"(0 never appears), so {width} is past the {width} scores of output {out_name!r}",
                                f"subtract 1 from the targets (classes 0 to {width - 1}); a width of {n} would "
                                "train a class 0 that has no samples", f"output.{out_name}")
            measured = _measured(labels)
            if measured:
                raise DataError("T005", f"the targets look like measured values, not class ids: {measured}",
                                "for a regression, use loss: {type: MSELoss} (or HuberLoss, L1Loss) with one "
                                f"output; if they really are class ids, set the last layer's width to {n}", "loss")
            raise DataError("T005", f"the data has classes 0 to {n - 1} ({n} classes), "
                            f"but output {out_name!r} gives {width} scores per sample",
                            f"set the last layer's width to {n}", f"output.{out_name}")
        weight = loss.get("weight")
        if weight is not None and isinstance(width, int) and len(weight) != width:
            raise DataError("T005", f"the loss has {len(weight)} class weights but the output has {width} classes",
                            f"give {width} weights, or class_weights: auto", "loss")
    elif task == "binary":
        if loss.get("ignore_index") is not None:
            y = y[y != loss["ignore_index"]]  # a binary FocalLoss skips the labels marked missing
        if y.size and (np.nanmin(y) < 0 or np.nanmax(y) > 1):
            low, high = float(np.nanmin(y)), float(np.nanmax(y))
            raise DataError("T006", f"{loss.get('type')} needs targets in [0, 1], but the data holds values from "
                            f"{low:g} to {high:g}", _binary_fix(y, low, high), "loss")
    elif task == "distribution":
        log_target = loss.get("log_target", False)
        p = np.exp(y) if log_target else y
        sums = p.reshape(-1, p.shape[-1]).sum(-1) if p.ndim > 1 else p
        if p.size and (np.nanmin(p) < 0 or not np.allclose(sums, 1.0, atol=1e-3)):
            space = "log-probability" if log_target else "probability"
            raise DataError("T006", f"KLDivLoss needs {space} rows as targets (each row ≥ 0 summing to 1), "
                            f"but rows sum to {float(np.min(sums)):.3g}…{float(np.max(sums)):.3g}",
                            "normalise each target row (y / y.sum(-1)), or use log_target: true for log-probabilities",
                            "loss")
    elif task == "ctc":
        blank = loss.get("blank", 0)
        width = out[-1]
        if d.lengths is None or len(d.lengths) != len(y):
            raise DataError("T002", "CTC training needs one target length per sample",
                            "save y_lengths beside the padded targets", "source")
        if y.size and (y.max() >= width if isinstance(width, int) else False):
            raise DataError("T005", f"CTC targets hold label {int(y.max())}, but the output has {width} classes",
                            f"set the last layer's width to {int(y.max()) + 1} (blank included)", f"output.{out_name}")
        for row, n in zip(y, d.lengths):  # no sample number: training checks a shuffled split
            if n > y.shape[1]:
                raise DataError("T006", f"a target length is {int(n)}, beyond the padded width "
                                f"{y.shape[1]} of the targets", "check y_lengths: each is the count of real labels "
                                "in its row, the padding after them left out", "source")
            if np.any(row[:n] == blank):
                at = int(np.argmax(row[:n] == blank))
                real = np.concatenate([r[:k] for r, k in zip(y, d.lengths)]) if len(y) else y.ravel()
                top = int(real.max()) if real.size else 0
                free = width - 1 if isinstance(width, int) and width - 1 > top and blank != width - 1 else None
                fix = (f"set blank: {free} (the one class no label uses), or number the labels from 1"
                       if free is not None else f"number the labels from 1 (add 1) and give the last layer {top + 2} "
                       "outputs, the blank 0 beside them")
                raise DataError("T006", f"a target holds label {blank} at position {at}, within its "
                                f"length {int(n)}, but {blank} is the blank, CTC's 'no label', which a transcript "
                                f"cannot contain (the labels run {int(real.min()) if real.size else 0} to {top})",
                                fix, "loss")
        if not loss.get("zero_infinity", False):
            _ctc_spellable(cfg, d)
    check_finite(d, "the data", own_masks(cfg))


# Values beyond this, fed or regressed as they are, start training far from where PyTorch's
# initial weights and the usual learning rates work (both assume inputs and targets of order 1):
# house prices regressed raw by SGD reached a loss of 5e23 in one epoch, 0-255 pixels left a CNN
# at chance.
RAW_SCALE = 100.0


def raw_scale(cfg: dict[str, Any], d: Data) -> list[tuple[str, str, str]]:
    """(message, hint, where) for each input and regression target of ``d`` that training feeds
    as it is (no preprocess scaling applies to it) and whose values reach beyond RAW_SCALE."""
    kinds = scaling(cfg)[0]
    out = []
    for name, x in d.inputs.items():
        # a mask's -1e9 hides a key, it feeds no weight
        if kinds.get(name) != "none" or not cfg["inputs"][name]["dtype"].startswith(("float", "bfloat")) or \
                name in own_masks(cfg) or not x.size or float(np.abs(x).max()) <= RAW_SCALE:
            continue
        why = ("preprocess inputs: auto leaves images and sequences as they are" if
               cfg["train"]["preprocess"]["inputs"] == "auto" else "preprocess inputs: none")
        out.append((f"input {name!r} holds values up to {float(np.abs(x).max()):g}, fed to the model as they are "
                    f"({why}): inputs that large swamp the first layer's initial weights, so the loss starts far "
                    "off and training stalls or diverges",
                    "write train.preprocess: {inputs: standardize}, or save the data scaled (images to [0, 1]: "
                    "x / 255)", f"inputs.{name}"))
    targets = d.targets if isinstance(d.targets, dict) else {None: d.targets}
    for name, y in targets.items():
        one = head(cfg, name) if name is not None else cfg
        top = float(np.abs(y).max()) if y.size else 0.0
        if one["task"] != "regression" or scaling(one)[1] != "none" or top <= RAW_SCALE:
            continue
        whose = f" of output {name!r}" if name is not None else ""
        out.append((f"the targets{whose} reach {top:g} and are regressed as they are (preprocess targets: none): "
                    f"the model's first outputs are near 0, so the loss starts near {top * top:.2g}, and its steps "
                    "explode (SGD) or crawl towards values that large (Adam)",
                    "write train.preprocess: {targets: standardize} (predict still answers in the targets' units)",
                    "preprocess.targets"))
    return out


# The ranges of the bounded activations a regression model may end in, and the share of target
# values outside one that is no rounding or noise at an edge.
REACH = {"Sigmoid": (0.0, 1.0), "Hardsigmoid": (0.0, 1.0), "Tanh": (-1.0, 1.0), "Softsign": (-1.0, 1.0)}
OUT_OF_REACH = 0.01


def out_of_reach(cfg: dict[str, Any], d: Data) -> list[tuple[str, str, str]]:
    """(message, hint, where) for each regression output that ends in a bounded activation and is
    trained on unscaled targets of which more than OUT_OF_REACH lie outside its range: a Sigmoid
    decoder for images normalised to [-1, 1] can never output the dark half."""
    targets = d.targets if isinstance(d.targets, dict) else {None: d.targets}
    out = []
    for name, y in targets.items():
        one = head(cfg, name) if name is not None else cfg
        key = name if name is not None else next(iter(one["outputs"]))
        last = (one.get("output_layers") or {}).get(key, {}).get("type")
        if one["task"] != "regression" or scaling(one)[1] != "none" or last not in REACH or not y.size:
            continue
        lo, hi = REACH[last]
        share = float(np.mean((y < lo) | (y > hi)))
        if share <= OUT_OF_REACH:
            continue
        low, high = float(y.min()), float(y.max())
        fits = [k for k in ("Sigmoid", "Tanh") if REACH[k][0] <= low and high <= REACH[k][1]]
        fix = (f"end the model in {fits[0]} (outputs in ({REACH[fits[0]][0]:g}, {REACH[fits[0]][1]:g})) in place of "
               f"{last}" if fits else f"remove the final {last} so the model outputs any real value, and write "
               "train.preprocess: {targets: standardize}")
        whose = f" of output {name!r}" if name is not None else ""
        out.append((f"the targets{whose} run from {low:g} to {high:g} and are regressed as they are, but the model "
                    f"ends in {last}, whose outputs stay in ({lo:g}, {hi:g}): {share:.0%} of the target values lie "
                    "outside it and can never be reached", fix, f"output.{key}"))
    return out


def onehot_regressed(cfg: dict[str, Any], d: Data) -> list[tuple[str, str, str]]:
    """(message, hint, where) for each regression output trained on one-hot rows (a single 1 in each row of
    two or more 0/1 values, in every sample): Keras' categorical targets under loss='mse', a classifier
    trained to regress its classes' indicators, whose predictions then come back as scaled numbers."""
    targets = d.targets if isinstance(d.targets, dict) else {None: d.targets}
    out = []
    for name, y in targets.items():
        one = head(cfg, name) if name is not None else cfg
        key = name if name is not None else next(iter(one["outputs"]))
        if one["task"] != "regression" or y.ndim != 2 or y.shape[1] < 2 or len(y) < 2 or \
                not np.isin(y, (0, 1)).all() or not (y.sum(axis=1) == 1).all():
            continue
        loss = (one.get("loss") or {}).get("type", "the loss")
        whose = f" of output {key!r}" if name is not None else ""
        out.append((f"the targets{whose} are one-hot rows of {y.shape[1]} classes (a single 1 in each), but {loss} "
                    f"regresses them as {y.shape[1]} numbers: the model is never asked for a class, and predict and "
                    "evaluate answer values and errors, not labels and accuracy",
                    f"use loss: {{type: CrossEntropyLoss}} on the {y.shape[1]} raw outputs (it reads a one-hot row "
                    "as the index of its 1)", "loss"))
    return out


# Sliding windows: each sample is the one before it moved on by a few steps (up to MAX_SHIFT), in
# at least WINDOW_SHARE of the consecutive pairs of the first WINDOW_ROWS samples.
MAX_SHIFT = 16
WINDOW_SHARE = 0.9
WINDOW_ROWS = 256
MIN_WINDOWS = 8


def _window_shift(x: np.ndarray) -> int | None:
    """The step by which consecutive samples of ``x`` slide over one series (x[i + 1] starts s steps
    into x[i]), or None when they are not such windows."""
    if x.ndim < 2 or len(x) < MIN_WINDOWS or x.dtype.kind not in "fiu" or x.shape[1] < 3:
        return None
    w = x[:WINDOW_ROWS]
    for s in range(1, min(MAX_SHIFT, x.shape[1] - 1) + 1):
        a, b = w[:-1, s:], w[1:, :-s]
        flat = a.reshape(len(a), -1)
        varied = flat.max(axis=1) != flat.min(axis=1)  # a constant stretch matches any shift
        same = (a == b).reshape(len(a), -1).all(axis=1) & varied
        if same.sum() >= WINDOW_SHARE * len(a):
            return s
    return None


def split_leaks(cfg: dict[str, Any], d: Data) -> list[tuple[str, str, str]]:
    """(message, hint, where): samples that are overlapping windows of one series (a forecaster's
    (N, T, F) or lagged (N, T) rows) split at random into training and validation, so that each
    validation window shares all but a few steps with windows trained on."""
    data = cfg["train"]["data"]
    if not data["shuffle"] or data["val_source"] or not data["val_split"]:
        return []
    for name, x in d.inputs.items():
        s = _window_shift(x)
        if s is None:
            continue
        steps = f"{s} step{'s' * (s != 1)}"
        return [(f"the samples of input {name!r} are overlapping windows of one series (each starts {steps} "
                 f"into the one before it), and val_split draws its {data['val_split']:g} of them at random: "
                 f"every validation window shares all but {steps} with windows trained on, so the validation "
                 "scores measure memory, not forecasting",
                 "set shuffle: false in train.data: the last windows then validate, after every window trained "
                 "on (Keras' validation_split, scikit-learn's TimeSeriesSplit)", "shuffle")]
    return []


def sorted_labels(cfg: dict[str, Any], d: Data) -> list[tuple[str, str, str]]:
    """(message, hint, where) when shuffle: false reads a classifier's rows in file order and the file
    holds its class labels sorted (every row of class 0, then every row of class 1, ...): each batch
    is then of one class, so the model learns one class after the other and forgets each for the next,
    and the validation split (the last rows) holds the last classes alone."""
    data = cfg["train"]["data"]
    y = d.targets
    if data["shuffle"] or cfg["task"] != "classification" or isinstance(y, dict) or y.dtype.kind not in "iub":
        return []
    y = y.reshape(len(y), -1)[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    if y.ndim != 1 or len(y) < 4:
        return []
    step = np.diff(y.astype(np.int64))
    if not ((step >= 0).all() or (step <= 0).all()):
        return []
    starts = np.flatnonzero(np.r_[True, step != 0])
    runs = [(int(y[a]), int(b - a)) for a, b in zip(starts, [*starts[1:], len(y)])]
    n_val = 0 if data["val_source"] else validation_size(cfg, d)
    message = unshuffled_sorted(runs, n_val, data["sampler"] == "balanced") if len(runs) > 1 else None
    return [(message, SHUFFLE_FIX, "shuffle")] if message else []


def inverted_padding(cfg: dict[str, Any], d: Data) -> list[tuple[str, str, str]]:
    """(message, hint, where) for a key-padding mask in the data that hides every key of some samples
    and, in the others, a run of first keys: a tokenizer's attention_mask (1 at the real tokens, then
    0 at the padding) fed where PyTorch reads True as padding. The model then attends to the padding
    alone, and a sample with no padding attends to nothing."""
    out = []
    for name in cfg.get("padding_masks", []):
        m = d.inputs.get(name)
        if m is None or m.ndim != 2 or m.shape[1] < 2 or not len(m):
            continue
        if m.dtype.kind != "b" and not np.isin(m, (0, 1)).all():
            continue  # an additive float mask (L040's case) or not a mask at all
        hidden = m.astype(bool)
        everything = hidden.all(axis=1)
        if not _inverted(hidden):
            continue
        k, n = int(everything.sum()), len(m)
        out.append((f"the key-padding mask {name!r} hides every key of {k} of the {n} samples and, in the others, "
                    "the first keys, showing only the last: it reads as a tokenizer's attention_mask (true at the "
                    "real tokens), but PyTorch's key_padding_mask is true at the padding, so the model attends to "
                    f"the padding alone and {k} sample{'s' * (k != 1)} to nothing",
                    f"save the mask inverted, true at the padding ({name} = attention_mask == 0)", f"input.{name}"))
    return out


# A weight list is read as written the wrong way round when it tracks the classes' frequencies: each
# weight within this factor of what frequency-proportional weights (scaled to the same sum) would be,
# on labels whose commonest class is at least IMBALANCE times the rarest.
FREQUENCY_FACTOR = 1.5
IMBALANCE = 3.0
RARE_POSITIVES = 0.25


def inverted_weights(cfg: dict[str, Any], d: Data) -> list[tuple[str, str, str]]:
    """(message, hint, where) for class weights that up-weight the common classes: a CrossEntropy
    weight list proportional to the classes' frequencies (counts / N where N / (K * count) was meant),
    or a BCE pos_weight of positives / negatives (where PyTorch's docs give negatives / positives)."""
    loss, y = cfg["loss"] or {}, d.targets
    if isinstance(y, dict) or not y.size:
        return []
    if cfg["task"] == "classification" and isinstance(loss.get("weight"), list) and y.dtype.kind in "iu":
        w = np.asarray(loss["weight"], dtype=np.float64)
        counts = np.bincount(y.reshape(-1)[y.reshape(-1) >= 0], minlength=len(w)).astype(np.float64)
        if len(counts) != len(w) or counts.min() == 0 or counts.max() < IMBALANCE * counts.min():
            return []
        expected = counts / counts.sum() * w.sum()
        if not (np.abs(np.log(w / expected)) <= np.log(FREQUENCY_FACTOR)).all():
            return []
        balanced = counts.sum() / (len(counts) * counts)
        fix = ", ".join(f"{v:.3g}" for v in balanced)
        return [(f"the class weights {', '.join(f'{v:g}' for v in w)} follow the classes' frequencies in the "
                 f"data ({', '.join(f'{int(c)}' for c in counts)} samples): the common classes weigh most and the "
                 "rare ones least, the opposite of what weights for imbalance do", f"use weight: [{fix}] (N / (K "
                 "x count), scikit-learn's 'balanced'), or class_weights: auto", "loss.weight")]
    pos = loss.get("pos_weight")
    if cfg["task"] != "binary" or pos is None or y.ndim > 2 or y.dtype.kind not in "fiub":
        return []
    share = np.nanmean(y.reshape(len(y), -1).astype(np.float64), axis=0)
    w = np.asarray(pos, dtype=np.float64).reshape(-1)
    if w.size not in (1, share.size):
        return []  # T052's mistake, said at the loss
    w = np.broadcast_to(w, share.shape)
    odds = share / np.maximum(1 - share, 1e-12)
    inverted = (share > 0) & (share <= RARE_POSITIVES) & (w < 1) & (np.abs(np.log(w / np.maximum(odds, 1e-12)))
                                                                     <= np.log(2))
    if not inverted.any():
        return []
    fix = ", ".join(f"{(1 - s) / s:.3g}" if s > 0 else "1" for s in share)
    return [(f"pos_weight {', '.join(f'{v:g}' for v in np.unique(w))} is the positives' share over the negatives' "
             f"({', '.join(f'{s:.1%}' for s in share[inverted])} of the targets are 1): it weighs the rare positives "
             "down, where pos_weight (PyTorch's docs: negatives / positives) is meant to weigh them up",
             f"use pos_weight: [{fix}] (negatives / positives)", "loss.pos_weight")]


def ignored_class(cfg: dict[str, Any], d: Data) -> list[tuple[str, str, str]]:
    """(message, hint, where) for a classifier of samples (one class per sample, a (B, C) output)
    whose loss's ignore_index is one of its own classes, present in the targets: every sample of that
    class is left out of the loss, so the model never learns it (ignore_index: 0 copied from a tagger
    whose class 0 is the padding)."""
    loss, y = cfg["loss"] or {}, d.targets
    ignore = loss.get("ignore_index")
    dims = next(iter((cfg.get("output_dims") or {}).values()), None)
    if cfg["task"] != "classification" or isinstance(y, dict) or not isinstance(ignore, int) or ignore < 0 or \
            dims is None or len(dims) != 2 or not isinstance(dims[1], int) or ignore >= dims[1] or \
            y.dtype.kind not in "iu":
        return []
    hit = int((y == ignore).sum())
    if not hit:
        return []
    return [(f"ignore_index: {ignore} is class {ignore} of the {dims[1]} this classifier scores, and {hit} of the "
             f"{y.size} samples are of it: the loss leaves every one of them out, so class {ignore} is never learned "
             "(ignore_index marks padding positions in a tagger's targets, not a class of a classifier)",
             "remove ignore_index (the default -100 leaves no class out)", "loss.ignore_index")]
