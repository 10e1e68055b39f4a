"""Static checks of the training sections against the model: what `specc train` could not do
with a spec is reported by `specc check`, at its line (no torch, no data needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..diagnostics import Diagnostic
from ..shapes.dims import fmt_shape
from .document import class_weights
from .errors import did_you_mean
from .locations import Locations

if TYPE_CHECKING:
    from ..shapes.tensor import TensorType
    from ..spec import Spec

# Which loss trains what: the one list that check, `specc train` and its metrics read.
CLASSIFICATION = {"CrossEntropyLoss", "NLLLoss", "FocalLoss"}
BINARY = {"BCELoss", "BCEWithLogitsLoss"}
DISTRIBUTION = {"KLDivLoss"}
SEQUENCE = {"CTCLoss"}
# the metrics each kind of loss gives (docs/spec.md, "Metrics")
METRICS_OF = {
    "classification": {"val_loss", "val_accuracy", "val_precision", "val_recall", "val_f1", "val_token_accuracy"},
    "binary": {"val_loss", "val_accuracy", "val_precision", "val_recall", "val_f1", "val_roc_auc"},
    "regression": {"val_loss", "val_mae", "val_rmse", "val_r2"},
}
REGRESSION = {"MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss"}
TASK_WORDS = {"binary": "a binary (yes/no) head", "regression": "a regression",
              "classification": "a multi-class head"}
# A last layer whose values are bounded (Sigmoid: 0…1) is meant to fit targets in its own range:
# preprocess: auto leaves those targets unscaled and standardises any other regression's.
BOUNDED = {"Sigmoid", "Tanh", "Softmax", "Hardsigmoid", "Hardtanh", "Softsign"}
# The regression losses with a threshold in the targets' units: Huber's delta, SmoothL1's beta.
THRESHOLD_OF = {"HuberLoss": ("delta", 1.0), "SmoothL1Loss": ("beta", 1.0)}


def unreduced(loss: Any) -> tuple[str | None, str, str] | None:
    """(output or None for the one loss, message, hint) when the loss section (the spec's, or the
    training config's plain dicts) has reduction: none, which gives a loss per element where specc's
    training loop steps on one number per batch (T018); build_loss() still gives it."""
    def field(one: Any, key: str) -> Any:
        return one.get(key) if isinstance(one, dict) else getattr(one, key, None)

    per_output = isinstance(loss, dict) and "type" not in loss
    found = [(k, one) for k, one in (loss.items() if per_output else [(None, loss)])
             if one is not None and field(one, "reduction") == "none"]
    if not found:
        return None
    key, one = found[0]
    where = f"output {key!r}: " if key is not None else ""
    return (key, f"{where}{field(one, 'type')} with reduction: none gives one loss per element, but specc's "
            "training loop steps on one number per batch (PyTorch: \"grad can be implicitly created only for "
            "scalar outputs\")",
            "use reduction: mean (or sum); reduction: none is for a loop of your own over build_loss(), in a spec "
            "without a train section")


def losses(doc: Any, outputs: list[str]) -> dict[str, Any]:
    """Each trained output's loss: the per-output mapping as written (keys naming no output left
    out), or the single loss on the first output."""
    if doc is None or doc.loss is None or not outputs:
        return {}
    if isinstance(doc.loss, dict):
        return {n: doc.loss[n] for n in outputs if n in doc.loss}
    return {outputs[0]: doc.loss}


def task(loss: Any, out: TensorType | None) -> str | None:
    """The metrics a loss's run computes (a key of METRICS_OF; None: val_loss alone), from the one
    rule the loop trains by, task_of, so check and training agree (a binary FocalLoss included)."""
    kind = task_of(loss, out)
    return kind if kind in METRICS_OF else None


def classification(loss: Any, out: TensorType) -> bool:
    """Whether ``loss`` reads a class dim: CrossEntropy and NLL always, FocalLoss unless binary."""
    if getattr(loss, "type", None) not in CLASSIFICATION:  # a per-output mapping is no one loss
        return False
    return loss.type != "FocalLoss" or focal_mode(loss, out) == "multiclass"


def focal_mode(loss: Any, out: TensorType) -> str:
    """binary when the spec says so or the class dim has width 1, else multiclass."""
    if loss.mode is not None:
        return str(loss.mode)
    dim = class_dim(loss, out)
    return "binary" if dim is None or out.shape[dim] == 1 else "multiclass"


def class_dim(loss: Any, out: TensorType) -> int | None:
    """The loss's class dim as a non-negative index into ``out``; None when it is not one (or the batch)."""
    d = getattr(loss, "class_dim", 1)
    d = d + out.rank if d < 0 else d
    return d if 1 <= d < out.rank else None


def task_of(loss: Any, out: TensorType | None) -> str:
    """classification, binary (also multi-label), distribution, ctc or regression.

    FocalLoss is binary when its mode says so or its class dim has width 1 (one logit per
    element), as the emitted loss decides; a loss that reads a class dim is classification."""
    name = loss.type
    if name in CLASSIFICATION:
        return "classification" if out is None or classification(loss, out) else "binary"
    if name in BINARY:
        return "binary"
    if name in DISTRIBUTION:
        return "distribution"
    if name in SEQUENCE:
        return "ctc"
    return "regression"


def training_diagnostics(spec: Spec) -> list[Diagnostic]:
    doc, graph, at = spec.document, spec.graph, spec.locations
    if doc is None or graph is None or not at.written():
        return []
    out: list[Diagnostic] = _untrainable(doc, at)
    if doc.loss is None:
        return out
    loss_loc = at.value("loss")
    names = [n for n, _ in graph.outputs]
    per_output = isinstance(doc.loss, dict)
    if per_output:
        out += _per_output(doc.loss, names, at, loss_loc)
    elif len(graph.outputs) > 1:
        out.append(Diagnostic(
            "V022", f"the model has {len(graph.outputs)} outputs ({', '.join(names)}) but one loss; specc "
            "trains a loss on one output", loss_loc,
            "give each output its own loss (loss: {" + ", ".join(f"{n}: {{type: ...}}" for n in names) +
            "}), return the trained output alone (outputs: NAME), or train the model with your own loop"))
    train = doc.train
    if train is None:
        return out
    trained = losses(doc, names)
    sources = dict(graph.outputs)
    kinds = {n: task(loss, graph.value(sources[n])) for n, loss in trained.items()}
    single = None if per_output or not trained else next(iter(trained))
    out += _targets(train.data, list(trained) if per_output else None, at,
                    (kinds[single], graph.value(sources[single]).shape, single) if single else None)
    stopper = train.early_stopping
    if stopper:
        loc = None
        if at.mapping("train", "early_stopping"):
            loc = at.value("train", "early_stopping", "monitor")
        ranks = {n: graph.value(sources[n]).rank for n in trained}
        out += _monitor(stopper.monitor, trained, kinds, ranks, per_output, loc or loss_loc)
    wants_labels = [k for k, on in (("class_weights: auto", train.class_weights == "auto"),
                                    ("sampler: balanced", train.data.sampler == "balanced")) if on]
    if wants_labels and (per_output or "classification" not in kinds.values()):
        loc = at.value("train", "class_weights") if at.written("train", "class_weights") else loss_loc
        if per_output:
            out.append(Diagnostic("V024", f"{' and '.join(wants_labels)} need one set of class labels, but the "
                                  "loss is per output", loc,
                                  "give each classifier's loss its class weights (weight: [...]), or remove them"))
        else:
            out.append(Diagnostic("V024", f"{' and '.join(wants_labels)} need class labels, but "
                                  f"{next(iter(trained.values())).type} does not train a classifier", loc,
                                  "use them with CrossEntropyLoss (or NLLLoss), or remove them"))
    elif train.data.sampler == "balanced" and single is not None and (y := graph.value(sources[single])).rank > 2:
        # The loop draws each sample by its one label; a per-position label has no class per sample.
        out.append(Diagnostic(
            "V024", f"sampler: balanced draws each sample by its class, but {doc.loss.type} on the output "
            f"{y} takes a class per position (labels {_labels_shape(doc.loss, y)}), not one per sample",
            at.value("train", "data", "sampler"),
            "remove sampler: balanced; class_weights: auto weighs rare classes position by position instead"))
    weighted = "class_weights: auto" if train.class_weights == "auto" else \
        "the loss's weight" if not per_output and class_weights(doc.loss) else None
    if train.data.sampler == "balanced" and weighted and not per_output and "classification" in kinds.values():
        out.append(Diagnostic("V140", f"sampler: balanced already draws every class equally often, and {weighted} "
                              "weighs the rare classes up on top of it: the imbalance is corrected twice, so the "
                              "model over-predicts the rare classes", at.value("train", "data", "sampler"),
                              "set sampler: random to keep the class weights, or drop the class weights to keep the "
                              "balanced sampler", "warning"))
    if train.class_weights == "auto" and not per_output and class_weights(doc.loss):
        out.append(Diagnostic("V024", "class_weights: auto and the loss's weight: both set the class weights",
                              loss_loc, "keep one of them"))
    return out


def _labels_shape(loss: Any, out: TensorType) -> str:
    """The targets a classification loss reads from ``out``: its shape without the class dim."""
    dim = class_dim(loss, out)
    return fmt_shape([d for i, d in enumerate(out.shape) if i != dim])


def _untrainable(doc: Any, at: Locations) -> list[Diagnostic]:
    """V021 at train: where the spec asks to be trained but lacks a loss or an optimizer, which
    `specc train` would refuse only after check said ok."""
    missing = [k for k in ("loss", "optimizer") if getattr(doc, k) is None]
    if doc.train is None or not missing:
        return []
    example = {"loss": "loss: {type: CrossEntropyLoss} (MSELoss for a regression)",
               "optimizer": "optimizer: {type: Adam, lr: 0.001}"}
    return [Diagnostic("V021", f"train: is set but the spec has no {' and no '.join(missing)} section, so it "
                       "cannot be trained", at.key("train") or at.value("train"),
                       f"add {' and '.join(example[k] for k in missing)} at the top level, or remove train:")]


def _per_output(given: dict[str, Any], names: list[str], at: Locations, loss_loc: Any) -> list[Diagnostic]:
    out, guessed = [], set()
    for key in given:
        if key not in names:
            guess = did_you_mean(key, [n for n in names if n not in given])
            guessed.add(guess)  # a misspelt key is one mistake: its output is not also reported as lossless
            loc = at.key("loss", key) if at.written("loss", key) else loss_loc
            out.append(Diagnostic("V025", f"the loss names output {key!r}, but the model's outputs are "
                                  f"{', '.join(names)}", loc,
                                  f"did you mean '{guess}'?" if guess else
                                  "key each loss by the name of an output in outputs:"))
    for key, loss in given.items():
        if loss.type == "CTCLoss":
            loc = at.value("loss", key, "type") if at.mapping("loss", key) else loss_loc
            out.append(Diagnostic("V028", f"output {key!r}: CTCLoss cannot be one loss among several, it needs "
                                  "each target's length", loc,
                                  "train the CTC output alone (outputs: NAME, loss: {type: CTCLoss})"))
    missing = [n for n in names if n not in given and n not in guessed]
    if missing:
        out.append(Diagnostic("V027", f"output{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                              f"{'have' if len(missing) > 1 else 'has'} no loss; specc trains every output the "
                              "model returns", loss_loc,
                              f"add {missing[0]}: {{type: ...}} to loss: (with weight: 0 to leave it untrained), "
                              "or remove it from outputs:"))
    return out


def _monitor(monitor: str, trained: dict[str, Any], kinds: dict[str, str | None], ranks: dict[str, int],
             per_output: bool, loc: Any) -> list[Diagnostic]:
    """V023: the monitored metric is one this run computes."""
    computed = {"val_loss"}
    for name in trained:
        kind = kinds[name]
        metrics = METRICS_OF[kind] if kind is not None else {"val_loss"}
        if kind == "classification":
            # as the loop scores them (backends/train/metrics.py): a class per position (a tagger, a
            # language model) gets token accuracy alone; one class per sample, precision, recall and F1
            metrics = ({"val_loss", "val_accuracy", "val_token_accuracy"} if ranks[name] > 2 else
                       metrics - {"val_token_accuracy"})
        computed |= {f"val_{name}_{m.removeprefix('val_')}" for m in metrics} if per_output else metrics
    if monitor in computed:
        return []
    what = ("this run" if per_output else f"a {next(iter(trained.values())).type} run") if trained else "the run"
    # a metric of another task (the ROC AUC of a multi-class head, accuracy of a regression) is no
    # misspelling: the nearest name (val_recall for val_roc_auc) would only change the subject
    tasks = [TASK_WORDS[k] for k, m in METRICS_OF.items() if monitor.removeprefix("val_") in
             {x.removeprefix("val_") for x in m} and k in TASK_WORDS]
    why = f" ({monitor} is a metric of {' and '.join(tasks)})" if tasks and not per_output else ""
    guess = did_you_mean(monitor, sorted(computed)) if not tasks else None
    return [Diagnostic("V023", f"early stopping monitors {monitor}, which {what} does not compute{why}", loc,
                       f"did you mean '{guess}'?" if guess else f"monitor one of {', '.join(sorted(computed))}")]


def _target_columns(columns: list[str], kind: str, shape: Any, output: str, loc: Any) -> list[Diagnostic]:
    """target: [col, …] for one loss: the K columns of a (B, K) output, each a value to regress or
    a 0/1 label; a classifier reads one column of class ids."""
    if kind not in ("regression", "binary"):
        return [Diagnostic("V029", f"target lists {len(columns)} columns, but a {kind} loss reads one column "
                           "(the class of each sample)", loc, f"write target: {columns[0]}")]
    dims = list(shape)
    if len(dims) != 2 or (isinstance(dims[1], int) and dims[1] != len(columns)):
        return [Diagnostic("V029", f"target lists {len(columns)} columns, one per value of a (B, {len(columns)}) "
                           f"output, but output {output!r} is {fmt_shape(shape)}", loc,
                           f"make the last layer give {len(columns)} values per sample (out_features: "
                           f"{len(columns)}), or list {dims[1]} columns" if len(dims) == 2 else
                           f"end the model in (B, {len(columns)})")]
    return []


def _targets(data: Any, heads: list[str] | None, at: Locations,
             single: tuple[str, Any, str] | None = None) -> list[Diagnostic]:
    """V029: a per-output loss reads one target per output; a single loss one target, or (CSV) the
    columns of a (B, K) regression or multi-label output. ``single``: that loss's task, its output's
    shape and name."""

    def loc(key: str) -> Any:
        if at.written("train", "data", key):
            return at.value("train", "data", key)
        return at.value("train", "data") if at.written("train", "data") else None

    suffix = data.source.rsplit(".", 1)[-1].lower() if "." in data.source else ""
    per_output = {"npz": "y_key", "csv": "target"}
    if heads is None:
        if isinstance(data.target, list) and suffix == "csv" and single is not None:
            return _target_columns(data.target, *single, loc("target"))
        given = [k for k in ("y_key", "target") if not isinstance(getattr(data, k), (str, type(None)))]
        return [Diagnostic("V029", f"{given[0]} names a target per output, but the loss is one loss",
                           loc(given[0]), f"write {given[0]}: NAME, or give each output its loss "
                           "(loss: {OUTPUT: {type: ...}, ...})")] if given else []
    sample = "{" + ", ".join(f"{h}: ..." for h in heads) + "}"
    if data.source != "synthetic" and suffix not in per_output:
        return [Diagnostic("V029", f"data source {data.source!r} holds one target, but the loss trains "
                           f"{len(heads)} outputs ({', '.join(heads)})", loc("source"),
                           f"use a .npz file with y_key: {sample}, or a .csv file with target: {sample}")]
    if data.source == "synthetic":
        return []
    key = per_output[suffix]
    value = getattr(data, key)
    names = list(value) if isinstance(value, dict) else None
    if isinstance(value, list):
        names = heads if len(value) == len(heads) else None
    if names is None or sorted(names) != sorted(heads):
        return [Diagnostic("V029", f"the loss trains {len(heads)} outputs ({', '.join(heads)}), so {key} needs "
                           f"one {'array' if key == 'y_key' else 'column'} for each", loc(key) or loc("source"),
                           f"{key}: {sample}")]
    return []
