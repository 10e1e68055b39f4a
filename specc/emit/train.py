"""The ``--train`` entry point: the module plus a runnable, standalone training script."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .context import EmitError, ModuleCtx
from .gate import TRAIN_IMPORTS
from .quote import lit
from .render import render_module

if TYPE_CHECKING:
    from ..pipeline import Spec

CLASSIFICATION = {"CrossEntropyLoss", "NLLLoss"}
BINARY = {"BCELoss", "BCEWithLogitsLoss"}


def task_of(loss_type: str) -> str:
    if loss_type in CLASSIFICATION:
        return "classification"
    if loss_type in BINARY:
        return "binary"
    return "regression"


def render_training(spec: Spec, ctx: ModuleCtx) -> str:
    doc = spec.document
    assert doc is not None
    if doc.loss is None or doc.optimizer is None:
        missing = " and ".join(s for s, v in (("loss", doc.loss), ("optimizer", doc.optimizer)) if v is None)
        raise EmitError(f"--train needs a {missing} section in the spec")
    if doc.loss.type == "CTCLoss":
        raise EmitError("--train does not generate CTC training (it needs sequence lengths); use build_loss()")
    from ..validate.document import Train

    train = doc.train or Train()
    data = train.data
    stopper: dict[str, Any] | None = train.early_stopping.model_dump() if train.early_stopping else None
    t = {
        "script": "model.py",
        "epochs": lit(train.epochs),
        "batch_size": lit(train.batch_size),
        "seed": lit(train.seed),
        "device": lit(train.device),
        "data": lit(data.source),
        "val_split": lit(data.val_split),
        "shuffle": lit(data.shuffle),
        "num_samples": lit(data.num_samples),
        "x_key": lit(data.x_key),
        "y_key": lit(data.y_key),
        "grad_clip": lit(train.grad_clip),
        "mixed_precision": lit(train.mixed_precision),
        "early_stopping": lit(stopper),
        "checkpoint": lit(train.checkpoint),
        "log_every": lit(train.log_every),
        "task": lit(task_of(doc.loss.type)),
        "threshold": lit(0.0 if doc.loss.type == "BCEWithLogitsLoss" else 0.5),
        "sizes": lit(dict(sorted(doc.export.sizes.items()))),
    }
    return render_module(ctx, "train.py.j2", TRAIN_IMPORTS, t=t)
