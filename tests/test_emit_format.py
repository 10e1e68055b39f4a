"""Generated source is formatted by ``ruff format`` when ruff is installed, else by specc's
own fallback (specc/targets/torch/emit/format.py).  Both write the same text: the
fallback's output is compared with ruff's for every example spec and golden module (with
and without the training entry point) and every layer case, and the golden files hold with
the fallback as they do with ruff.  A ruff that fails leaves the fallback to write the file."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

import specc
from specc.targets.torch.emit import compile_source
from specc.targets.torch.emit import format as fmt

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "specs").rglob("*.yaml") if "broken" not in p.parts)
GOLDEN = sorted((ROOT / "tests" / "golden" / "compile").glob("*.yaml"))
RUFF = fmt.ruff_binary()


def _load(path: Path) -> specc.Spec:
    spec = specc.loads(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert spec.ok, [str(d) for d in spec.errors]
    return spec


def _both(spec: specc.Spec, monkeypatch: pytest.MonkeyPatch, train: bool = False) -> tuple[str, str]:
    """(ruff's text, the fallback's text) of the module."""
    with monkeypatch.context() as m:
        m.setattr(fmt, "ruff_binary", lambda: RUFF)
        ruffs = compile_source(spec, train=train)
    with monkeypatch.context() as m:
        m.setattr(fmt, "ruff_binary", lambda: None)
        ours = compile_source(spec, train=train)
    return ruffs, ours


@pytest.mark.skipif(RUFF is None, reason="ruff is not installed")
@pytest.mark.parametrize("path", EXAMPLES + GOLDEN, ids=[str(p.relative_to(ROOT)) for p in EXAMPLES + GOLDEN])
def test_the_fallback_writes_what_ruff_writes(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _load(path)
    ruffs, ours = _both(spec, monkeypatch)
    assert ours == ruffs
    if spec.document is not None and spec.document.loss is not None and spec.document.optimizer is not None:
        ruffs, ours = _both(spec, monkeypatch, train=True)
        assert ours == ruffs


@pytest.mark.torch
@pytest.mark.skipif(RUFF is None, reason="ruff is not installed")
def test_the_fallback_writes_what_ruff_writes_for_every_layer_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kind's constructor, forward line and support code, formatted both ways."""
    cases = pytest.importorskip("layer_cases")  # needs torch: its oracle builds the modules
    for case in cases.CASES:
        spec = specc.loads(case.yaml(), f"{case.kind}.yaml")
        assert spec.ok, case.id
        ruffs, ours = _both(spec, monkeypatch)
        assert ours == ruffs, case.id


@pytest.mark.torch
@pytest.mark.skipif(RUFF is None, reason="ruff is not installed")
def test_the_fallback_writes_what_ruff_writes_with_names_as_long_as_a_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Layer cases under names of 40 to 100 characters, where a line cannot hold a call and
    ruff breaks brackets from the left (SPECC_FUZZ_EXAMPLES sets how many; 40 by default)."""
    cases = pytest.importorskip("layer_cases").CASES
    r = random.Random(0)
    for _ in range(int(os.environ.get("SPECC_FUZZ_EXAMPLES", "40"))):
        case = r.choice(cases)
        name = "n" + "".join(r.choice("abcdefghij_") for _ in range(r.randint(40, 100)))
        text = case.yaml()
        if "name:" not in text:
            text = text.replace("  - {", f"  - {{name: {name}, ", 1)
        spec = specc.loads(text, "long_names.yaml")
        if not spec.ok:  # a case whose layer takes no name this way
            continue
        ruffs, ours = _both(spec, monkeypatch)
        assert ours == ruffs, (case.id, name)


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_modules_hold_with_the_fallback(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmt, "ruff_binary", lambda: None)
    assert compile_source(_load(path)) == path.with_suffix(".py").read_text(encoding="utf-8")


def test_a_ruff_that_fails_leaves_the_file_to_the_fallback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = _load(GOLDEN[0])
    monkeypatch.setattr(fmt, "ruff_binary", lambda: None)
    expected = compile_source(spec)
    monkeypatch.setattr(fmt, "ruff_binary", lambda: str(tmp_path / "no-such-ruff"))
    assert compile_source(spec) == expected
    assert fmt.ruff_format("x = (\n", str(tmp_path / "no-such-ruff")) is None


@pytest.mark.skipif(RUFF is None, reason="ruff is not installed")
def test_ruff_refusing_the_text_is_no_formatting() -> None:
    assert RUFF is not None
    assert fmt.ruff_format("x = (\n", RUFF) is None
    assert fmt.ruff_format("x = [1,\n  2]\n", RUFF) == "x = [1, 2]\n"


def test_a_too_long_trailing_comment_moves_above_its_statement() -> None:
    """The one layout choice ruff never makes, taken before either formatter runs."""
    stmt = "        out = self.layer(" + ", ".join(f"argument_{i}" for i in range(6)) + ")"
    line = stmt + "  # (B, 512, 7, 7)"
    assert len(line) > fmt.LINE
    assert fmt.place_comments(line) == "        # (B, 512, 7, 7)\n" + stmt + "\n"
    short = "        out = self.layer(x)  # (B, 512, 7, 7)"
    assert fmt.place_comments(short) == short + "\n"
    inside = '    """' + "a docstring line that is long enough to pass the limit " * 2 + "  # not code"
    assert fmt.place_comments(f'"""\n{inside}\n"""') == f'"""\n{inside}\n"""\n'
