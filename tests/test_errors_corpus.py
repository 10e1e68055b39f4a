"""The error corpus: one small spec per mistake, each stating what specc must say about it.

A bad spec starts with comment lines:

    # What is wrong, in words.
    # args: --set hiden=128                          (optional: extra `specc check` arguments)
    # expect: S001 at 13:33 hint~ "in_features: 18432"

One ``expect`` line per error diagnostic: the code, where (``line:col``, or ``cli`` for a
command-line argument) and a substring of the hint (``msg~ "..."`` checks the message).
The errors reported must be exactly those: every problem in one run, and nothing that
cascades from them.  A good spec (``corpus/good``) must check clean.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from specc.cli import main
from specc.codes import CODES
from specc.diagnostics import Diagnostic
from specc.lint.docs import catalogue
from specc.pipeline import load

CORPUS = Path(__file__).parent / "corpus"
BAD = sorted((CORPUS / "bad").glob("*.yaml"))
GOOD = sorted((CORPUS / "good").glob("*.yaml"))
# The showcase of broken specs in the repository: same header format, same guarantees.
BROKEN = sorted((Path(__file__).parents[1] / "specs" / "broken").glob("*.yaml"))

_EXPECT = re.compile(r"^#\s*expect:\s*(?P<code>[A-Z]\d{3})\s+at\s+(?P<where>\S+)(?P<rest>.*)$")
_CHECK = re.compile(r'(?P<what>hint|msg)~\s*"(?P<text>[^"]*)"')


@dataclass
class Expect:
    code: str
    where: str
    hint: list[str] = field(default_factory=list)
    msg: list[str] = field(default_factory=list)

    def matches(self, d: Diagnostic) -> bool:
        if d.code != self.code or d.loc is None:
            return False
        if self.where == "cli":
            if d.loc.file != "<command line>":
                return False
        elif self.where != f"{d.loc.line}:{d.loc.col}":
            return False
        return all(h in (d.hint or "") for h in self.hint) and all(m in d.message for m in self.msg)


@dataclass
class Header:
    description: str
    args: list[str]
    expects: list[Expect]


def parse_header(path: Path) -> Header:
    description, args, expects = "", [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        body = line[1:].strip()
        m = _EXPECT.match(line)
        if m:
            e = Expect(m["code"], m["where"])
            for c in _CHECK.finditer(m["rest"]):
                (e.hint if c["what"] == "hint" else e.msg).append(c["text"])
            expects.append(e)
        elif body.startswith("args:"):
            args = shlex.split(body[len("args:"):])
        elif not description:
            description = body
    return Header(description, args, expects)


def overrides(args: list[str]) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == "--set"]


def show(diags: list[Diagnostic]) -> str:
    return "\n".join(f"  {d.code} at {d.loc.line if d.loc else '?'}:{d.loc.col if d.loc else '?'} "
                     f"{d.message} | hint: {d.hint}" for d in diags)


@pytest.mark.parametrize("path", BAD + BROKEN, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_bad_spec_reports_exactly_what_its_header_says(path: Path) -> None:
    header = parse_header(path)
    assert header.description, f"{path.name}: first comment line must say what is wrong"
    assert header.expects, f"{path.name}: no '# expect:' line"
    errors = load(path, overrides(header.args) or None).errors
    unmatched = list(errors)
    for e in header.expects:
        hit = next((d for d in unmatched if e.matches(d)), None)
        assert hit is not None, f"{path.name}: expected {e}, got:\n{show(errors)}"
        unmatched.remove(hit)
    assert not unmatched, f"{path.name}: unexpected extra errors:\n{show(unmatched)}"
    for d in errors:  # one sentence in user terms, and a hint that says what to do
        assert d.hint, f"{path.name}: {d.code} has no hint"
        assert "\n" not in d.message and "Traceback" not in d.message
        assert not re.search(r"pydantic|ValidationError|constrained-|literal\[|tuple\[", d.message + d.hint), d


@pytest.mark.parametrize("path", BAD + BROKEN, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_cli_check_exits_1_without_traceback(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header = parse_header(path)
    rc = main(["check", str(path), *header.args])
    out, err = capsys.readouterr()
    assert rc == 1, out + err
    assert "Traceback" not in out + err and "internal error" not in out + err
    for e in header.expects:
        assert f"error[{e.code}]" in out


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_spec_checks_clean(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = load(path)
    assert spec.ok, show(spec.diagnostics)
    assert main(["check", str(path)]) == 0
    assert "Traceback" not in "".join(capsys.readouterr())


def test_corpus_is_large_and_covers_every_stage() -> None:
    assert len(BAD) >= 45 and 6 <= len(BROKEN) <= 8
    codes = {e.code for p in BAD for e in parse_header(p).expects}
    for code in ("Y001", "Y002", "Y003", "Y004", "Y005", "X001", "X002", "X003", "X004", "V001", "V002", "V003",
                 "V004", "V005", "V006", "V007", "V008", "G001", "G002", "G003", "G004", "G006", "S001", "S002",
                 "S003", "S004", "S005", "S006", "S007"):
        assert code in codes, f"no corpus spec for {code}"
    assert codes <= set(CODES)


def test_alias_bomb_is_refused_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    # "Fast" without a stopwatch: the expansion must stop at the node limit, not after
    # expanding the billions of values the aliases describe.
    from specc.load import yaml_loader

    calls = 0
    build = yaml_loader._Builder.build

    def counting(self, node, depth=0):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return build(self, node, depth)

    monkeypatch.setattr(yaml_loader._Builder, "build", counting)
    spec = load(CORPUS / "bad" / "y003_alias_bomb.yaml")
    assert [d.code for d in spec.errors] == ["Y003"]
    assert calls <= yaml_loader.MAX_NODES + 1


def test_every_problem_in_one_run() -> None:
    errors = load(CORPUS / "bad" / "multi_three_errors.yaml").errors
    assert sorted(d.code for d in errors) == ["G001", "V001", "V008"]


def test_one_bad_layer_gives_one_diagnostic() -> None:
    spec = load(CORPUS / "bad" / "no_cascade.yaml")
    assert [d.code for d in spec.diagnostics] == ["S001"]  # no warnings or errors downstream either


# -- Pydantic's errors, translated -----------------------------------------------------------------

CONV = """\
specc: 1
inputs:
  image: [B, 3, 32, 32]
layers:
  - {type: Conv2d, out_channels: 8, kernel_size: KERNEL, padding: PADDING}
"""


@pytest.mark.parametrize(("kernel", "padding", "message", "hint"), [
    ('"abc"', "1", "kernel_size must be a positive whole number or a list of positive whole numbers, got 'abc'",
     "kernel_size: 3 or kernel_size: [3, 3]"),
    ("[3, a]", "1", "kernel_size must be a positive whole number or a list of positive whole numbers, got [3, 'a']",
     "kernel_size: 3"),
    ("0", "1", "kernel_size must be a positive whole number or a list", "kernel_size: 3"),
    ("3", "sme", "padding must be a non-negative whole number, a list of non-negative whole numbers or one of "
     "'same', 'valid', got 'sme'", "did you mean 'same'?"),
    ("3", "-1", "padding must be", "padding: 0 (the default)"),
])
def test_a_union_field_gives_one_clear_diagnostic(kernel: str, padding: str, message: str, hint: str) -> None:
    from specc.pipeline import loads

    errors = loads(CONV.replace("KERNEL", kernel).replace("PADDING", padding), "t.yaml").errors
    assert len(errors) == 1, show(errors)
    assert errors[0].code == "V003" and message in errors[0].message and hint in (errors[0].hint or "")
    assert errors[0].message.startswith("Conv2d 'conv2d_1': ")
    assert errors[0].loc is not None and errors[0].loc.line == 5


def test_tagged_union_errors_stay_separate_and_named_by_section() -> None:
    from specc.pipeline import loads

    text = CONV.replace("KERNEL", "3").replace("PADDING", "1") + "optimizer: {type: Adam, lr: -1, betas: [2, 0.9]}\n"
    errors = loads(text, "t.yaml").errors
    assert [(d.code, d.message) for d in errors] == [
        ("V003", "optimizer.lr must be a positive number, got -1"),
        ("V003", "optimizer.betas[0] must be a number ≥ 0 and < 1, got 2"),
    ]
    assert errors[0].hint == "write lr: 0.001 (the default) or another positive number"


@pytest.mark.parametrize(("written", "pytorch"), [
    ("MAELoss", "L1Loss"), ("mean_absolute_error", "L1Loss"), ("MeanSquaredError", "MSELoss"),
    ("BinaryCrossentropy", "BCEWithLogitsLoss"), ("sparse_categorical_crossentropy", "CrossEntropyLoss"),
    ("KLDivergence", "KLDivLoss"), ("CrossEntropy", None), ("CrossEntropyLos", None), ("SmoothL1", None)])
def test_a_loss_named_as_another_framework_names_it_gets_pytorchs_name(written: str, pytorch: str | None) -> None:
    """Spelling alone would name another loss (MAELoss is a letter from MSELoss); a mere slip of
    PyTorch's own name keeps its "did you mean"."""
    from specc.pipeline import loads

    text = CONV.replace("KERNEL", "3").replace("PADDING", "1") + f"loss: {{type: {written}}}\n"
    [error] = loads(text, "t.yaml").errors
    assert error.code == "V008" and error.hint is not None
    if pytorch is None:
        assert error.hint.startswith("did you mean")
    else:
        assert f"use type: {pytorch}" in error.hint


def test_a_missing_channel_dim_is_declared_only_on_an_input() -> None:
    """A (B, L) into a 1-d layer: declaring the input [B, 1, L] fixes it only where the layer reads
    the input itself; a Linear's (B, K) output gets the Unsqueeze alone."""
    from specc.pipeline import loads

    head = "specc: 1\ninputs: {x: [B, 96]}\nlayers:\n"
    [direct] = loads(head + "  - {type: MaxPool1d, kernel_size: 8}\n", "t.yaml").errors
    [after] = loads(head + "  - {type: Linear, out_features: 4}\n  - {type: Upsample, size: 24}\n", "t.yaml").errors
    assert direct.code == after.code == "S003" and direct.hint and after.hint
    assert "Unsqueeze, dim: 1" in direct.hint and "declare the input with its channel dim: [B, 1, 96]" in direct.hint
    assert "Unsqueeze, dim: 1" in after.hint and "declare" not in after.hint


def test_a_misspelt_key_is_suggested_among_layer_keys_too() -> None:
    from specc.pipeline import loads

    errors = loads(CONV.replace("KERNEL", "3").replace("PADDING", "1}").replace("1}}", "1, nmae: c1}"),
                   "t.yaml").errors
    assert [(d.code, d.hint) for d in errors] == [("V001", "did you mean 'name'?")]


def test_bad_trainable_is_reported_with_the_parameter_errors() -> None:
    from specc.pipeline import loads

    text = CONV.replace("KERNEL", "3").replace("PADDING", "x, trainable: maybe")
    assert sorted(d.message.split(": ", 1)[1][:9] for d in loads(text, "t.yaml").errors) == ["padding m", "trainable"]


@pytest.mark.parametrize(("annotation", "words"), [
    ("PositiveInt | tuple[PositiveInt, ...]", "a positive whole number or a list of positive whole numbers"),
    ("Annotated[float, Field(ge=0, le=1)]", "a number from 0 to 1"),
    ("Annotated[float, Field(gt=0, lt=1)]", "a number strictly between 0 and 1"),
    ("Annotated[int, Field(ge=9, le=23)]", "a whole number from 9 to 23"),
    ("Annotated[float, Field(ge=0, lt=1)]", "a number ≥ 0 and < 1"),
    ("Annotated[int, Field(ge=2)]", "a whole number of at least 2"),
    ("NonNegativeInt", "a non-negative whole number"),
    ("Literal['mean', 'sum']", "one of 'mean', 'sum'"),
    ("tuple[float, float]", "a list of 2 numbers"),
    ("list[str] | None", "a list of text values"),
    ("bool", "true or false"),
    ("dict[str, int]", "a mapping"),
    ("Annotated[int, Field(description='an odd number')]", "an odd number"),
])
def test_types_are_described_in_the_users_words(annotation: str, words: str) -> None:
    from typing import Annotated, Literal  # noqa: F401  (used by eval)

    from pydantic import Field, NonNegativeInt, PositiveInt  # noqa: F401

    from specc.validate.errors import describe

    assert describe(eval(annotation)) == words


# -- renderers ---------------------------------------------------------------------------------------

ROOT = Path(__file__).parents[1]
GOLDEN = Path(__file__).parent / "golden"
GOLDEN_SPECS = ["cifar_wrong_in_features", "typos_everywhere", "resnet_shortcut_not_projected"]


@pytest.mark.parametrize("stem", GOLDEN_SPECS)
def test_text_output_matches_golden(stem: str, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The exact text a person reads. Regenerate with SPECC_UPDATE_GOLDEN=1 after a deliberate change."""
    import os

    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert main(["check", f"specs/broken/{stem}.yaml"]) == 1
    out = capsys.readouterr().out
    golden = GOLDEN / f"check_{stem}.txt"
    if os.environ.get("SPECC_UPDATE_GOLDEN"):
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8")


def test_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["check", "--format", "json", str(ROOT / "specs/broken/cifar_wrong_in_features.yaml")]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    (d,) = report["diagnostics"]
    assert {k: d[k] for k in ("code", "severity", "line", "col")} == {"code": "S001", "severity": "error",
                                                                       "line": 17, "col": 33}
    assert d["file"].endswith("cifar_wrong_in_features.yaml") and "12544" in d["message"]
    assert "in_features: 12544 (= 64·14·14)" in d["hint"]
    first = report["layers"][0]
    assert first == {**first, "name": "conv2d_1", "type": "Conv2d", "output_shape": ["B", 32, 30, 30], "params": 896}
    assert next(r for r in report["layers"] if r["name"] == "linear_1")["params"] is None  # it failed


def test_json_report_of_a_good_spec(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["check", "--format", "json", str(CORPUS / "good" / "yaml11_names_stay_text.yaml")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["diagnostics"] == []
    assert [(r["name"], r["type"], r["output_shape"], r["params"]) for r in report["layers"]] == [
        ("no", "Linear", ["B", 32], 32 * 32 + 32), ("yes", "ReLU", ["B", 32], 0),
        ("on", "Linear", ["B", 10], 32 * 10 + 10)]
    assert report["outputs"] == [{"name": "on", "shape": ["B", 10]}, {"name": "yes", "shape": ["B", 32]}]
    assert report["total_params"] == 1056 + 330


def test_github_annotations(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["check", "--format", "github", "specs/broken/typos_everywhere.yaml"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[0] == ("::error file=specs/broken/typos_everywhere.yaml,line=15,col=38,title=V001 unknown-key::"
                        "Conv2d 'conv2d_1': unknown parameter 'kernal_size' (hint: did you mean 'kernel_size'?)")


def test_github_escaping() -> None:
    from specc.diagnostics import Location, render_github

    d = Diagnostic("V003", "100% wrong,\nreally", Location("a,b:c.yaml", 2, 3), "fix it")
    assert render_github(d) == ("::error file=a%2Cb%3Ac.yaml,line=2,col=3,title=V003 invalid-value::"
                                "100%25 wrong,%0Areally (hint: fix it)")
    cli = Diagnostic("X003", "bad --set", Location("<command line>", 1, 1), "h", "warning")
    assert render_github(cli) == "::warning title=X003 bad-override::bad --set (hint: h)"


@pytest.mark.parametrize("code", sorted(CODES))
def test_explain_prints_why_example_and_fix(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    entry = next(c for c in catalogue() if c.code == code)
    assert entry.summary and entry.why and entry.example and entry.fix
    assert main(["explain", code.lower()]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{code} ({entry.name}): ")
    for text in (entry.why, entry.fix, entry.example.splitlines()[0]):
        assert text in out


def test_unused_input_and_dead_layer_warnings_are_located() -> None:
    from specc.pipeline import loads

    spec = loads("specc: 1\ninputs:\n  image: [B, 3, 8, 8]\n  mask: [B, 1, 8, 8]\nlayers:\n"
                 "  - {type: Conv2d, out_channels: 4, kernel_size: 3, from: image, name: a}\n"
                 "  - {type: Conv2d, out_channels: 4, kernel_size: 3, from: image}\n", "t.yaml")
    assert spec.ok
    found = [(d.code, d.loc.line if d.loc else None, d.hint) for d in spec.diagnostics]
    assert found == [("G005", 4, "remove it from inputs:, or read it with from: mask"),
                     ("G007", 6, "remove the layer, or list it under outputs:")]


@pytest.mark.parametrize("seed", range(3))
def test_mangled_specs_never_crash(seed: int) -> None:
    """Random edits of the example specs: every outcome is diagnostics with a place and a hint."""
    import random

    from specc.pipeline import loads

    rng = random.Random(seed)
    examples = sorted((ROOT / "specs").glob("*.yaml"))
    alphabet = [*":{}[],-#&*!|>'\"%` \t\n0123456789abxyzB$", "${", "1e-3", "null", "type: ", "from: "]
    for _ in range(40):
        text = rng.choice(examples).read_text(encoding="utf-8")
        for _ in range(rng.randint(1, 4)):
            at, op = rng.randrange(len(text)), rng.random()
            if op < 0.4:
                text = text[:at] + rng.choice(alphabet) + text[at:]
            elif op < 0.7:
                text = text[:at] + text[at + rng.randint(1, 8):]
            else:
                start = rng.randrange(len(text))
                text = text[:at] + text[start:start + rng.randint(1, 30)] + text[at:]
        spec = loads(text, "mangled.yaml")
        for d in spec.errors:
            assert d.loc is not None and d.hint, (d, text)


@pytest.mark.parametrize(("shape", "fix"), [
    ("[28, 28, 1]", "write x: [B, 28, 28, 1] if (28, 28, 1) is one sample"),  # Keras' input_shape
    ("[1, 3, 32, 32]", "write x: [B, 3, 32, 32] to take any number of samples"),  # a torch.onnx.export dummy
])
def test_an_input_of_fixed_numbers_alone_warns_that_its_first_is_the_batch(shape: str, fix: str) -> None:
    from specc.pipeline import loads

    spec = loads(f"specc: 1\ninputs:\n  x: {shape}\nlayers:\n  - {{type: Flatten}}\n", "t.yaml")
    assert spec.ok
    (d,) = [d for d in spec.diagnostics if d.code == "G011"]
    assert d.severity == "warning" and d.loc is not None and d.loc.line == 3 and d.hint.startswith(fix)
    # the fix declares the batch and the warning goes
    declared = fix.split(": ", 1)[1].split("]")[0] + "]"
    fixed = loads(f"specc: 1\ninputs:\n  x: {declared}\nlayers:\n  - {{type: Flatten}}\n", "t.yaml")
    assert fixed.ok and "G011" not in {d.code for d in fixed.diagnostics}


def test_a_fixed_input_beside_batched_ones_is_one_tensor_every_sample_reads() -> None:
    from specc.pipeline import loads

    text = "specc: 1\ninputs:\n  x: [B, 8]\n  table: [8, 4]\nlayers:\n  - {type: MatMul, from: [x, table]}\n"
    spec = loads(text, "t.yaml")
    assert spec.ok
    (d,) = [d for d in spec.diagnostics if d.code == "G011"]
    # not "the model takes exactly 8 samples": the batch is B, and the table is shared by every sample
    assert "B samples" in d.message and "every sample reads this one tensor" in d.message and d.loc.line == 4
    assert d.hint.startswith("write table: [B, 8, 4] if each sample has its own (8, 4)")
    quiet = loads(text + "lint: {ignore: [G011]}\n", "t.yaml")
    assert quiet.ok and "G011" not in {d.code for d in quiet.diagnostics}


def test_explain_sends_a_layer_type_to_its_description(capsys: pytest.CaptureFixture[str]) -> None:
    # `specc explain Conv2d` is what a user tries first; an unknown code stays a usage error
    assert main(["explain", "positionalencoding"]) == 2
    assert "`specc layers PositionalEncoding` describes it" in capsys.readouterr().err
    assert main(["explain", "Z999"]) == 2
    assert "unknown code 'Z999'" in capsys.readouterr().err
