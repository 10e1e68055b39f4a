"""Static checks of the training sections against the model: what `specc train` could not do
with a spec is reported by `specc check`, at its line (no torch, no data needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..diagnostics import Diagnostic

if TYPE_CHECKING:
    from ..pipeline import Spec
    from ..shapes.tensor import TensorType

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


def task_of(loss: Any, out: TensorType | None) -> str:
    """classification, binary (also multi-label), distribution, ctc or regression.

    FocalLoss is binary when its mode says so or its class dim has width 1 (one logit per
    element), as the emitted loss decides; a loss that reads a class dim is classification."""
    from ..lint.training import classification

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
    doc, graph, raw = spec.document, spec.graph, spec.raw
    if doc is None or graph is None or doc.loss is None or raw is None:
        return []
    out: list[Diagnostic] = []
    loss_loc = raw.value_loc("loss") if hasattr(raw, "value_loc") else None
    if len(graph.outputs) > 1:
        names = ", ".join(n for n, _ in graph.outputs)
        out.append(Diagnostic(
            "V022", f"the model has {len(graph.outputs)} outputs ({names}) but one loss; specc trains a loss on "
            "one output", loss_loc,
            "return the trained output alone (outputs: NAME), or train the model with your own loop "
            "(specc compile gives the module)"))
    train = doc.train
    if train is None:
        return out
    loss = doc.loss.type
    out_t = graph.value(graph.outputs[0][1]) if graph.outputs else None
    kind = task_of(doc.loss, out_t)
    task = kind if kind in METRICS_OF else None
    tr = raw.get("train") if isinstance(raw, dict) else None
    stopper = train.early_stopping
    if stopper and task is not None and stopper.monitor not in METRICS_OF[task]:
        loc = None
        if isinstance(tr, dict) and isinstance(tr.get("early_stopping"), dict):
            loc = tr["early_stopping"].value_loc("monitor")
        out.append(Diagnostic("V023", f"early stopping monitors {stopper.monitor}, which a {loss} run does not "
                              "compute", loc or loss_loc,
                              f"monitor one of {', '.join(sorted(METRICS_OF[task]))}"))
    elif stopper and task is None and stopper.monitor != "val_loss":
        out.append(Diagnostic("V023", f"early stopping monitors {stopper.monitor}; a {loss} run computes only "
                              "val_loss", loss_loc, "monitor val_loss"))
    wants_labels = [k for k, on in (("class_weights: auto", train.class_weights == "auto"),
                                    ("sampler: balanced", train.data.sampler == "balanced")) if on]
    if wants_labels and task != "classification":
        loc = tr.value_loc("class_weights") if isinstance(tr, dict) and "class_weights" in tr else loss_loc
        out.append(Diagnostic("V024", f"{' and '.join(wants_labels)} need class labels, but {loss} does not train "
                              "a classifier", loc,
                              "use them with CrossEntropyLoss (or NLLLoss), or remove them"))
    if train.class_weights == "auto" and getattr(doc.loss, "weight", None):
        out.append(Diagnostic("V024", "class_weights: auto and the loss's weight: both set the class weights",
                              loss_loc, "keep one of them"))
    return out
