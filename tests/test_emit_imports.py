"""Imports are data: the plan collects the names its code reads and the generated module
imports exactly those (nothing is pruned from rendered text).  Checked on the source of
every example spec, every layer case and specs that need each piece of training support:
the names a module imports are the names it reads; and each piece of
templates/training_support.py.j2 reads exactly the names declared for it."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest

import specc
from specc.targets.torch.emit import compile_source
from specc.targets.torch.emit import format as fmt
from specc.targets.torch.emit.imports import PROVIDERS, TRAINING_SUPPORT, import_groups, names_in
from specc.targets.torch.emit.render import environment

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "specs").rglob("*.yaml") if "broken" not in p.parts)

# Specs whose modules print each piece of training support (and so read F and math).
SUPPORT_SPECS = {
    "focal": "inputs: {x: [B, 8]}\nlayers: [{type: Linear, out_features: 5}]\n"
             "loss: {type: FocalLoss, gamma: 2, alpha: [0.2, 1.0, 1.0, 1.0, 1.0]}\n",
    "kl_from_logits": "inputs: {x: [B, 8]}\nlayers: [{type: Linear, out_features: 5}]\n"
                      "loss: {type: KLDivLoss, from_logits: true}\n",
    "classes_at": "inputs: {t: {shape: [B, T], dtype: int64}}\n"
                  "layers: [{type: Embedding, num_embeddings: 30, embedding_dim: 8}, {type: Linear, out_features: 4}]\n"
                  "loss: {type: CrossEntropyLoss, class_dim: -1}\n",
    "multi_loss": "inputs: {x: [B, 8]}\nlayers:\n  - {type: Linear, out_features: 3, name: a}\n"
                  "  - {type: Linear, from: x, out_features: 1, name: b}\noutputs: [a, b]\n"
                  "loss: {a: {type: CrossEntropyLoss}, b: {type: MSELoss, weight: 0.5}}\n",
    "lora_frozen_norm": "inputs: {x: [B, 3, 8, 8]}\nlayers:\n"
                        "  - {type: Conv2d, out_channels: 4, kernel_size: 3}\n  - {type: BatchNorm2d}\n"
                        "  - {type: ReLU}\n  - {type: Flatten}\n  - {type: Linear, out_features: 16, name: fc1}\n"
                        "  - {type: ReLU}\n  - {type: Linear, out_features: 3}\n"
                        "lora: {rank: 4, alpha: 8, targets: [fc1]}\nloss: {type: CrossEntropyLoss}\n",
    "param_groups": "inputs: {x: [B, 8]}\nlayers:\n  - {type: Linear, out_features: 16}\n  - {type: LayerNorm}\n"
                    "  - {type: Linear, out_features: 3, name: head}\nloss: {type: CrossEntropyLoss}\n"
                    "optimizer: {type: AdamW, weight_decay: 0.05, no_decay: [bias, norm], "
                    "param_groups: [{params: [head], lr: 0.01}]}\n",
}


@pytest.fixture(autouse=True)
def _fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """What is imported does not depend on the formatter; the fallback is the quicker one."""
    monkeypatch.setattr(fmt, "ruff_binary", lambda: None)


def _imports_match_reads(source: str) -> None:
    tree = ast.parse(source)
    imported: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "module", None) != "__future__":
            imported |= {a.asname or a.name for a in node.names}
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert imported <= set(PROVIDERS), imported
    assert imported == read & set(PROVIDERS), f"imports {sorted(imported)}, reads {sorted(read & set(PROVIDERS))}"


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT / "specs")) for p in EXAMPLES])
def test_an_example_imports_what_it_reads(path: Path) -> None:
    spec = specc.loads(path.read_text(encoding="utf-8"), str(path))
    _imports_match_reads(compile_source(spec))


@pytest.mark.parametrize("name", list(SUPPORT_SPECS))
def test_training_support_imports_what_it_reads(name: str) -> None:
    text = SUPPORT_SPECS[name]
    text += "" if "optimizer:" in text else "optimizer: {type: Adam, lr: 0.001}\n"
    spec = specc.loads("specc: 1\n" + text, f"{name}.yaml")
    assert spec.ok, [str(d) for d in spec.errors]
    source = compile_source(spec)
    _imports_match_reads(source)
    _imports_match_reads(compile_source(spec, train=True))


def test_the_support_specs_print_every_piece_and_every_import() -> None:
    """The specs above are what makes the previous test cover F, math and each piece."""
    sources = []
    for name, text in SUPPORT_SPECS.items():
        sources.append(compile_source(specc.loads("specc: 1\n" + text, f"{name}.yaml")))
    text = "\n".join(sources)
    for piece in TRAINING_SUPPORT:
        assert f"class {piece}(" in text or f"def {piece}(" in text, piece
    for _, statement in PROVIDERS.values():
        assert f"\n{statement}\n" in text, statement


@pytest.mark.torch
def test_every_layer_case_imports_what_it_reads() -> None:
    cases = pytest.importorskip("layer_cases")  # needs torch: its oracle builds the modules
    for case in cases.CASES:
        spec = specc.loads(case.yaml(), f"{case.kind}.yaml")
        assert spec.ok, case.id
        _imports_match_reads(compile_source(spec))


@pytest.mark.parametrize("piece", list(TRAINING_SUPPORT))
def test_each_training_support_piece_reads_the_names_declared_for_it(piece: str) -> None:
    text = environment().get_template("training_support.py.j2").render(ctx=SimpleNamespace(training_support={piece}))
    assert text.strip(), piece
    assert names_in(text) == TRAINING_SUPPORT[piece]


def test_import_groups_follow_the_standard_library_then_torch() -> None:
    assert import_groups({"F", "math", "torch"}) == [
        ["import math"], ["import torch", "from torch.nn import functional as F"]]
    assert import_groups({"nn", "torch"}) == [["import torch", "from torch import nn"]]
    assert import_groups(set()) == []


def test_every_importable_name_is_reserved() -> None:
    """A layer, input or model called ``F`` or ``math`` would shadow the import: check refuses
    the names the module may import (specc.validate.naming.GENERATED), whatever a module imports."""
    from specc.validate.naming import GENERATED, name_problem

    assert set(PROVIDERS) <= GENERATED
    for name in PROVIDERS:
        assert name_problem(name) is not None, name
