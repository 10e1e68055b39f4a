"""The model-design lint rules (L010–L015, L017, L018, and L004's wider reach), on the lint corpus.

``tests/corpus/lint`` holds one small spec per case, in the error corpus's header format
(``# expect: CODE at line:col hint~ "..." msg~ "..."``): a spec with expect lines must give
exactly those diagnostics (an error only where a check already rejects the mistake and the rule
names its cause); one without must check clean under --strict.  Every example spec of
the repository must check clean too, which is the false-positive bar for these rules.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_errors_corpus import parse_header, show

import specc.lint.rules  # noqa: F401  (registers every rule)
from specc.cli import main
from specc.codes import CODES
from specc.lint import RULES
from specc.pipeline import load, loads

ROOT = Path(__file__).resolve().parents[1]
LINT = sorted((Path(__file__).parent / "corpus" / "lint").glob("*.yaml"))
EXAMPLES = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "specs" / "zoo").glob("*.yaml"))
# The rules from issue 13 on, and every rule added after them: each one fires and stays quiet in the corpus.
# (L016 was planned for a recurrent dropout with num_layers: 1, which validation already rejects: V003.)
NEW = sorted(c for c in RULES if c >= "L010")


@pytest.mark.parametrize("path", LINT, ids=lambda p: p.stem)
def test_lint_corpus(path: Path) -> None:
    header = parse_header(path)
    assert header.description, f"{path.name}: first comment line must say what the spec shows"
    spec = load(path)
    found = list(spec.diagnostics)
    for e in header.expects:
        hit = next((d for d in found if e.matches(d)), None)
        assert hit is not None, f"{path.name}: expected {e}, got:\n{show(spec.diagnostics)}"
        assert hit.hint and "\n" not in hit.message
        assert (hit.severity == "warning") == hit.code.startswith("L"), f"{path.name}: {hit.code} {hit.severity}"
        found.remove(hit)
    assert not found, f"{path.name}: unexpected warnings:\n{show(found)}"


def test_every_new_rule_fires_and_stays_quiet_somewhere() -> None:
    fires = {e.code for p in LINT for e in parse_header(p).expects}
    quiet = {p.stem[:4].upper() for p in LINT if not parse_header(p).expects}
    for code in [*NEW, "L004"]:
        assert code in fires, f"no corpus spec fires {code}"
        assert code in quiet, f"no corpus spec shows {code} staying quiet"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_are_clean_under_strict(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--strict", "-q", str(path)]) == 0, capsys.readouterr().out


@pytest.mark.parametrize("code", NEW)
def test_the_documented_example_fires_its_rule(code: str) -> None:
    example = RULES[code].docs.example
    inputs = {"L010": "tokens: [B, T, 16]", "L018": "image: [B, 3, 16, 16]"}.get(code, "features: [B, 32]")
    head = "specc: 1\n" if example.startswith("inputs:") else f"specc: 1\ninputs:\n  {inputs}\n"
    spec = loads(head + example + "\n", "t.yaml")
    assert spec.ok, show(spec.errors)
    assert [d.code for d in spec.diagnostics] == [code], show(spec.diagnostics)
    assert RULES[code].docs.name == CODES[code].name


def test_silenced_in_spec_with_ignore() -> None:
    text = (ROOT / "tests" / "corpus" / "lint" / "l015_two_units_bce.yaml").read_text()
    spec = loads(text.replace("out_features: 2}", "out_features: 2, ignore: [L015]}"), "t.yaml")
    assert spec.ok and not spec.diagnostics


def test_every_lint_code_is_in_the_docs_table() -> None:
    text = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    for code in (c for c in CODES if c.startswith("L")):
        assert f"| `{code}` | {CODES[code].name} |" in text, code


@pytest.mark.parametrize(("typed", "meant"), [("L04", "L004"), ("l4", "L004"), ("L14", "L014"), ("L0017", "L017")])
def test_a_mistyped_ignore_code_suggests_the_one_meant(typed: str, meant: str) -> None:
    from specc.codes import closest_warning_code

    assert closest_warning_code(typed) == meant
