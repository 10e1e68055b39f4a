"""The ``--train`` entry point: the standalone module plus a ``__main__`` that trains it with
specc's one training loop (:mod:`specc.backends.train`), configured by a literal dict."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

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


def render_training(spec: Spec, module: ModuleRecord) -> str:
    doc = spec.document
    assert doc is not None
    if doc.loss is None or doc.optimizer is None:
        missing = " and ".join(s for s, v in (("loss", doc.loss), ("optimizer", doc.optimizer)) if v is None)
        raise CannotTrain(f"--train needs a {missing} section in the spec",
                          "add it, e.g. loss: {type: CrossEntropyLoss} and optimizer: {type: Adam, lr: 0.001}")
    from ....validate.train_config import train_config

    # JSON round trip: plain dicts, lists, numbers and text only (tuples become lists)
    config = json.loads(json.dumps(train_config(spec)))
    return render_module(module, "train.py.j2", TRAIN_IMPORTS, t={"script": "model.py", "config": lit(config)})
