"""The document is validated section by section: one broken section is reported at its line and
leaves the others typed, so their own mistakes and settings still count in the same run."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from specc.cli import main
from specc.pipeline import loads
from specc.validate.document import Adam, CrossEntropyLoss
from specc.validate.naming import SILENCEABLE, split_silenceable


def check(text: str):  # type: ignore[no-untyped-def]
    return loads(textwrap.dedent(text).lstrip(), "s.yaml")


def where(spec) -> list[tuple[str, int, int]]:  # type: ignore[no-untyped-def]
    return [(d.code, d.loc.line, d.loc.col) for d in spec.errors]


def test_a_bad_optimizer_and_a_bad_input_are_both_reported_each_at_its_line() -> None:
    spec = check("""
        inputs:
          x: {shape: [B, 0]}
          y: [B, 8]
        layers:
          - {type: Linear, out_features: 4, from: y}
          - {type: Conv2d, out_channels: 4, kernel_size: 3}
        outputs: linear_1
        optimizer: {type: Adam, lr: -1}
        """)
    # the input's size, the optimizer's lr, and the layer reading the good input (rank 2 into Conv2d)
    assert where(spec) == [("V003", 2, 18), ("S003", 6, 5), ("V003", 8, 29)]
    assert "optimizer.lr" in spec.errors[2].message and "inputs.x.shape[1]" in spec.errors[0].message


def test_a_broken_section_leaves_the_others_typed() -> None:
    spec = check("""
        name: Tagger
        inputs: {x: [B, 8]}
        layers: [{type: Linear, out_features: 3}]
        loss: {type: CrossEntropyLoss, label_smoothing: 0.1}
        optimizer: {type: Adam, lr: -1}
        scheduler: {type: StepLR}
        """)
    assert [d.code for d in spec.errors] == ["V003", "V002"]  # lr, and StepLR's missing step_size
    doc = spec.document
    assert doc is not None and doc.optimizer is None and doc.scheduler is None
    assert isinstance(doc.loss, CrossEntropyLoss) and doc.loss.label_smoothing == 0.1
    assert doc.inputs is not None and doc.inputs["x"].shape == ["B", 8]
    assert spec.name == "Tagger" and spec.graph is not None and spec.graph.name == "Tagger"


def test_a_good_spec_is_one_document_with_every_section() -> None:
    spec = check("""
        inputs: {x: [B, 8]}
        layers: [{type: Linear, out_features: 3}]
        optimizer: {type: Adam, lr: 0.01}
        """)
    assert spec.ok and isinstance(spec.document.optimizer, Adam) and spec.document.optimizer.lr == 0.01


def test_lint_settings_hold_while_another_section_is_broken() -> None:
    text = """
        inputs: {x: [B, 100000]}
        layers: [{type: Linear, out_features: 100000}]
        optimizer: {type: Adam, lr: -1}
        """
    loud = check(text)
    assert [d.code for d in loud.diagnostics] == ["S012", "V003"]
    quiet = check(text + "lint: {ignore: [S012]}\n")
    assert [d.code for d in quiet.diagnostics] == ["V003"]


def test_locations_point_at_the_typed_sections() -> None:
    spec = check("""
        inputs: {x: [B, 8]}
        layers: [{type: Linear, out_features: 3}]
        loss: {type: CrossEntropyLoss}
        train:
          epochs: 2
          data: {source: digits}
        lora: {targets: [linear_1, other]}
        """)
    at = spec.locations
    assert (at.value("loss", "type").line, at.value("loss", "type").col) == (3, 14)
    assert at.key("train", "epochs").line == 5 and at.value("train", "epochs").col == 11
    assert at.nearest("train", "data", "source").line == 6
    assert at.nearest("train", "data", "val_source") == at.value("train", "data")  # not written: its section
    assert at.value("lora", "targets", 1).col == 28
    assert at.mapping("loss") and not at.mapping("loss", "type") and not at.written("optimizer")
    assert set(at.keys("train")) == {"epochs", "data"}


def test_what_may_be_silenced_is_decided_once() -> None:
    assert split_silenceable(["l004", "S012", "V003", 4]) == (["L004", "S012"], ["V003", 4])
    assert "E999" not in SILENCEABLE and not any(c.startswith(("V00", "S00")) for c in SILENCEABLE)


@pytest.mark.parametrize("code", ["V003", "E999"])
def test_errors_cannot_be_silenced_anywhere(code: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layer = check(f"inputs: {{x: [B, 8]}}\nlayers: [{{type: Linear, out_features: 3, ignore: [{code}]}}]\n")
    assert [d.code for d in layer.errors] == ["V003"] and "is not a warning code" in layer.errors[0].message
    spec = check(f"inputs: {{x: [B, 8]}}\nlayers: [{{type: Linear, out_features: 3}}]\nlint: {{ignore: [{code}]}}\n")
    assert [d.code for d in spec.errors] == ["V003"] and "cannot be silenced" in spec.errors[0].message
    path = tmp_path / "s.yaml"
    path.write_text("inputs: {x: [B, 8]}\nlayers: [{type: Linear, out_features: 3}]\n")
    assert main(["check", str(path), "--ignore", code.lower()]) == 2
    assert f"--ignore {code}: only warnings can be silenced" in capsys.readouterr().err


def test_no_stage_after_validate_imports_the_raw_yaml_types() -> None:
    """load/ makes the positioned mappings and validate/ turns them into declarations; the
    stages after them read declarations and ``Spec.locations``."""
    raw_types = {"PosDict", "PosList", "Group"}
    # the editor's copy of the parsed text (Spec.raw), named for its annotation only
    allowed = {("spec.py", "PosDict")}
    package = Path(__file__).resolve().parents[1] / "specc"
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if rel.parts[0] in ("load", "validate"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith(("yaml_loader", "expand")):
                found += [(rel.as_posix(), a.name) for a in node.names
                          if a.name in raw_types and (rel.as_posix(), a.name) not in allowed]
    assert not found


def test_the_reserved_support_names_are_what_python_parses() -> None:
    import specc.pipeline  # noqa: F401  (reserves the PyTorch target's names)
    from specc.targets.torch import support
    from specc.validate.naming import support_names

    parsed = {n.name for name in support.NAMES for n in ast.parse(support.text(name)).body
              if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert parsed
    assert parsed == support.DEFINED, (f"support/__init__.py's DEFINED: add {sorted(parsed - support.DEFINED)}, "
                                       f"drop {sorted(support.DEFINED - parsed)}")
    assert support.defined_names() == parsed and support_names() == parsed


def test_the_reserved_template_names_are_what_the_templates_define() -> None:
    # the templates' top-level assignments, defs and classes, and the names their fixed imports bind
    # (jinja's {% ... %} left out; an import line with a {{ }} placeholder is the generated file's own)
    import re

    from specc.resources import templates_dir
    from specc.validate.naming import TEMPLATE_NAMES

    names: set[str] = set()
    for path in sorted(templates_dir().glob("*.j2")):
        text = path.read_text(encoding="utf-8")
        names.update(g for m in re.finditer(r"^(?:def|class) (\w+)|^(\w+) =", text, re.M) for g in m.groups() if g)
        for line in re.sub(r"\{%.*?%\}", "", text).splitlines():
            if line.startswith(("import ", "from ")) and "{" not in line:
                names.update(a.asname or a.name.split(".")[0] for node in ast.parse(line).body
                             if isinstance(node, (ast.Import, ast.ImportFrom)) for a in node.names)
    assert "build_loss" in names and "INPUT_SHAPES" in names
    assert names == TEMPLATE_NAMES, (f"validate/naming.py's TEMPLATE_NAMES: add {sorted(names - TEMPLATE_NAMES)}, "
                                     f"drop {sorted(TEMPLATE_NAMES - names)}")
