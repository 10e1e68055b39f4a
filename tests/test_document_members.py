"""A valid document is typed without the schema of the whole document: each loss, optimizer and
scheduler is validated as the one member its ``type:`` names (validate/sections.py).  That shortcut
must be invisible: wherever it answers, the whole document's validation gives the same typed
document, and wherever the whole validation accepts a document, the shortcut answers too (a spec
that is valid never pays for the unions).  Documents with a problem go the whole way, so their
diagnostics stay the union's own.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from specc.diagnostics import SpecError
from specc.load.yaml_loader import load_yaml
from specc.validate.document import LOSS_CLASSES, Document
from specc.validate.sections import _valid_document

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(p for d in ("specs", "tests/corpus") for p in (ROOT / d).rglob("*.yaml"))

BASE = """
specc: 1
inputs: {x: [B, 8]}
layers: [{type: Linear, out_features: 3}]
"""

# Sections written onto BASE: every member of each union, the per-output form, and the ways a
# tagged section can be wrong (unknown or missing type, a bad value, a value of the wrong kind).
SECTIONS: list[dict[str, Any]] = [
    *({"loss": {"type": c.model_fields["type"].annotation.__args__[0]}} for c in LOSS_CLASSES),
    {"loss": {"type": "CrossEntropyLoss", "weight": [1, 2, 3], "label_smoothing": 0.1}},
    {"loss": {"type": "FocalLoss", "mode": "binary", "alpha": [0.5]}},  # the member's own validator refuses
    {"loss": {"a": {"type": "MSELoss", "weight": 0.5}, "b": {"type": "CrossEntropyLoss", "weight": [1, 2]}}},
    {"loss": {"a": {"type": "MSELoss", "weight": -1}}},
    {"loss": {"a": {"type": "MSELos"}}},
    {"loss": {"a": {"reduction": "sum"}}},
    {"loss": {1: {"type": "MSELoss"}}},
    {"loss": {"a": {"type": "MSELoss"}, "b": 3}},
    {"loss": {}},
    {"loss": {"type": "CrossEntropyLos"}},
    {"loss": {"type": 3}},
    {"loss": {"reduction": "sum"}},
    {"loss": "CrossEntropyLoss"},
    {"loss": None},
    {"optimizer": {"type": "AdamW", "lr": 3e-4, "betas": [0.9, 0.95]}},
    {"optimizer": {"type": "SGD", "nesterov": True}},
    {"optimizer": {"type": "Adam", "lr": ".inf"}},
    {"optimizer": {"type": "Adam", "lr": float("inf")}},
    {"optimizer": {"type": "Adam", "lrr": 1}},
    {"optimizer": {"type": "Adamm"}},
    {"optimizer": {"lr": 1}},
    {"optimizer": [1]},
    {"optimizer": None},
    {"scheduler": {"type": "MultiStepLR", "milestones": [3, 6], "warmup": {"epochs": 2}}},
    {"scheduler": {"type": "OneCycleLR", "max_lr": 0.1}},
    {"scheduler": {"type": "OneCycleLR", "max_lr": 0.1, "interval": "epoch"}},
    {"scheduler": {"type": "StepLR"}},
    {"scheduler": {"type": "ReduceLROnPlateau", "warmup": {"epochs": 2}}},
    {"loss": {"type": "MSELoss"}, "optimizer": {"type": "Adam"}, "scheduler": {"type": "StepLR", "step_size": 2},
     "train": {"epochs": 2, "data": {"source": "iris"}}, "export": {"opset": 17}, "lint": {"ignore": ["L001"]}},
    {"train": {"epochs": 0}},
    {"typo_section": 1},
    {"specc": True},
]


def _full(given: dict[str, Any]) -> Document | None:
    try:
        return Document.model_validate(given)
    except ValidationError:
        return None


def _same(fast: Document | None, full: Document | None, what: str) -> None:
    assert (fast is None) == (full is None), \
        f"{what}: the shortcut {'refused' if fast is None else 'accepted'} what the whole document's validation " \
        f"{'accepted' if fast is None else 'refused'}"
    if fast is None or full is None:
        return
    assert type(fast) is Document and fast.model_fields_set == full.model_fields_set, what
    assert fast.model_dump(warnings=False) == full.model_dump(warnings=False), what
    for name in Document.model_fields:
        a, b = getattr(fast, name), getattr(full, name)
        if isinstance(a, dict) and isinstance(b, dict):  # the per-output losses: each its own class
            assert [type(v) for v in a.values()] == [type(v) for v in b.values()], (what, name)
        else:
            assert type(a) is type(b), (what, name)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_spec_is_typed_as_the_whole_document_types_it(path: Path) -> None:
    try:
        doc = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except SpecError:  # a spec YAML itself refuses: validation never sees it
        return
    if not isinstance(doc, dict):
        return
    _same(_valid_document(dict(doc)), _full(dict(doc)), str(path))


@pytest.mark.parametrize("sections", SECTIONS, ids=repr)
def test_each_tagged_section_is_typed_as_the_whole_document_types_it(sections: dict[str, Any]) -> None:
    given = {**dict(load_yaml(BASE, "s.yaml")), **copy.deepcopy(sections)}
    _same(_valid_document(given), _full(given), repr(sections))


def test_the_shortcut_is_taken_for_the_valid_specs() -> None:
    taken = [p for p in SPECS if not {"bad", "broken"} & set(p.parts) and _valid_document(dict(load_yaml(
        p.read_text(encoding="utf-8"), str(p)))) is not None]
    assert len(taken) >= 20, taken  # every example spec and the good corpus
