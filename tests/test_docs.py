"""The documentation cannot drift from the code: generated sections are current, every key
of the document models is mentioned, and every whole spec shown in the docs checks clean."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import specc
from specc.layers import REGISTRY
from specc.validate import document

ROOT = Path(__file__).resolve().parents[1]
SPEC_MD = ROOT / "docs" / "spec.md"
README = ROOT / "README.md"
sys.path.insert(0, str(ROOT / "scripts"))

import gen_layer_docs  # noqa: E402


def test_generated_sections_are_up_to_date() -> None:
    text = SPEC_MD.read_text(encoding="utf-8")
    assert gen_layer_docs.regenerate(text) == text, "run: python scripts/gen_layer_docs.py"


def test_every_layer_type_is_in_the_catalogue() -> None:
    text = SPEC_MD.read_text(encoding="utf-8")
    for name in REGISTRY:
        assert f"| `{name}`" in text, name


def test_every_document_key_is_documented() -> None:
    text = SPEC_MD.read_text(encoding="utf-8")
    for model in (document.Document, document.InputSpec, document.Train, document.DataSpec,
                  document.EarlyStopping, document.Export):
        for key in model.model_fields:
            assert f"`{key}`" in text, f"{model.__name__}.{key} is not in docs/spec.md"


def _whole_specs(path: Path) -> list[str]:
    blocks = re.findall(r"```yaml\n(.*?)```", path.read_text(encoding="utf-8"), re.S)
    return [b for b in blocks if b.lstrip().startswith("specc:")]


@pytest.mark.parametrize("doc", [SPEC_MD, README], ids=lambda p: p.name)
def test_whole_specs_in_the_docs_check_clean(doc: Path) -> None:
    specs = _whole_specs(doc)
    assert specs, f"{doc.name} shows no whole spec"
    for text in specs:
        spec = specc.loads(text, doc.name)
        assert spec.ok and not spec.diagnostics, [f"{d.code} {d.message}" for d in spec.diagnostics]


def test_readme_links_the_reference_and_commands_exist() -> None:
    text = README.read_text(encoding="utf-8")
    assert "docs/spec.md" in text
    for script in re.findall(r"bash (scripts/\S+\.sh)", text):
        assert (ROOT / script).is_file(), script
    assert (ROOT / ".ci" / "run").read_text().count("scripts/test.sh") == 1
