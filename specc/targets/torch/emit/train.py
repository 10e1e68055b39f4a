"""The ``--train`` entry point: the standalone module plus a ``__main__`` that trains it with
specc's one training loop (:mod:`specc.backends.train`), configured by a literal dict."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import EmitError
from .gate import TRAIN_IMPORTS
from .quote import lit
from .records import ModuleRecord
from .render import render_module

if TYPE_CHECKING:
    from ....spec import Spec


class CannotTrain(EmitError):
    """A spec without what training needs: a located V021, not an internal error."""

    code = "V021"

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


def render_training(spec: Spec, module: ModuleRecord, script_dir: Path | None = None) -> str:
    doc = spec.document
    assert doc is not None
    if doc.loss is None or doc.optimizer is None:
        missing = " and ".join(s for s, v in (("loss", doc.loss), ("optimizer", doc.optimizer)) if v is None)
        raise CannotTrain(f"--train needs a {missing} section in the spec",
                          "add it, e.g. loss: {type: CrossEntropyLoss} and optimizer: {type: Adam, lr: 0.001}")
    from ....validate.train_config import train_config

    # JSON round trip: plain dicts, lists, numbers and text only (tuples become lists)
    config = json.loads(json.dumps(train_config(spec)))
    _relocate(config["train"], Path(spec.path).resolve().parent, (script_dir or Path.cwd()).resolve())
    return render_module(module, "train.py.j2", TRAIN_IMPORTS, t={"script": "model.py", "config": lit(config)})


def _relocate(train: dict[str, Any], spec_dir: Path, script_dir: Path) -> None:
    """Data files are read from the spec's folder; the script reads them from its own (wherever it
    is run from), so each relative path is rewritten to lead from the script to the same file."""
    from ....validate.document import SKLEARN_DATASETS

    def moved(path: str | None) -> str | None:
        if not path or path in (*SKLEARN_DATASETS, "xor", "synthetic") or Path(path).is_absolute():
            return path
        trailing = "/" if path.endswith(("/", os.sep)) else ""  # an image folder keeps its slash
        return Path(os.path.relpath(spec_dir / path, script_dir)).as_posix() + trailing

    data = train["data"]
    for key in ("source", "val_source", "targets"):
        data[key] = moved(data.get(key))
    train["checkpoint"] = moved(train.get("checkpoint"))
