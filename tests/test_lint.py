"""Lint rules: each fires on the mistake it documents and stays quiet on the correct spec."""

from __future__ import annotations

import re
import sys
import textwrap

import pytest

import specc.lint.rules  # noqa: F401  (registers every rule)
from specc.cli import main
from specc.codes import CODES, LintCode
from specc.diagnostics import Diagnostic
from specc.lint import RULES, run_rules
from specc.lint.docs import catalogue, parse_rule_doc
from specc.pipeline import Spec, loads

MLP = """\
specc: 1
inputs:
  features: [B, 32]
layers:
  - {type: Linear, out_features: 64}
  - {type: ReLU}
"""

CNN = """\
specc: 1
inputs:
  image: [B, 3, 16, 16]
layers:
"""


def check(text: str) -> Spec:
    spec = loads(text, "t.yaml")
    assert spec.ok, [(d.code, d.message) for d in spec.errors]
    return spec


def warnings(text: str, code: str) -> list[Diagnostic]:
    found = [d for d in check(text).diagnostics if d.code == code]
    assert all(d.severity == "warning" for d in found)
    return found


def mlp(tail: str, loss: str | None) -> str:
    return MLP + textwrap.indent(textwrap.dedent(tail), "  ") + (f"loss: {{type: {loss}}}\n" if loss else "")


# -- L001 softmax-before-ce -------------------------------------------------------------------------

@pytest.mark.parametrize("last", ["Softmax, dim: 1", "LogSoftmax, dim: -1"])
def test_l001_softmax_before_cross_entropy(last: str) -> None:
    found = warnings(mlp(f"- {{type: Linear, out_features: 10}}\n- {{type: {last}}}\n", "CrossEntropyLoss"), "L001")
    assert len(found) == 1
    assert found[0].loc is not None and found[0].loc.line == 8 and "raw logits" in (found[0].hint or "")


@pytest.mark.parametrize(("last", "loss"), [
    ("LogSoftmax", "NLLLoss"),  # the correct pairing
    ("Softmax", None),  # no loss: a model that outputs probabilities
    ("Linear, out_features: 10", "CrossEntropyLoss"),
])
def test_l001_quiet(last: str, loss: str | None) -> None:
    assert not warnings(mlp(f"- {{type: Linear, out_features: 10}}\n- {{type: {last}}}\n", loss), "L001")


# -- L002 dropout-at-end --------------------------------------------------------------------------

@pytest.mark.parametrize("dropout", ["Dropout", "AlphaDropout"])
def test_l002_dropout_last(dropout: str) -> None:
    found = warnings(mlp(f"- {{type: Linear, out_features: 10, name: head}}\n- {{type: {dropout}, p: 0.2}}\n",
                         None), "L002")
    assert len(found) == 1 and "before 'head'" in (found[0].hint or "")


def test_l002_quiet_when_dropout_is_on_hidden_features() -> None:
    assert not warnings(mlp("- {type: Dropout, p: 0.2}\n- {type: Linear, out_features: 10}\n", None), "L002")


def test_l002_sees_through_blocks() -> None:
    text = MLP + "  - {type: Head}\nblocks:\n  Head:\n    layers:\n      - {type: Linear, out_features: 4}\n" \
                 "      - {type: Dropout}\n"
    found = warnings(text, "L002")
    assert len(found) == 1 and found[0].layer == "head_1.dropout_1" and found[0].loc.line == 12


# -- L003 sigmoid-before-bce-logits ---------------------------------------------------------------

def test_l003_sigmoid_before_bce_with_logits() -> None:
    found = warnings(mlp("- {type: Linear, out_features: 1}\n- {type: Sigmoid}\n", "BCEWithLogitsLoss"), "L003")
    assert len(found) == 1 and "BCELoss" in (found[0].hint or "")


@pytest.mark.parametrize(("tail", "loss"), [
    ("- {type: Linear, out_features: 1}\n- {type: Sigmoid}\n", "BCELoss"),
    ("- {type: Linear, out_features: 1}\n", "BCEWithLogitsLoss"),
])
def test_l003_quiet(tail: str, loss: str) -> None:
    assert not warnings(mlp(tail, loss), "L003")


# -- L004 bias-before-norm ------------------------------------------------------------------------

def test_l004_conv_bias_before_batchnorm_points_at_bias() -> None:
    text = CNN + "  - {type: Conv2d, out_channels: 8, kernel_size: 3, bias: true}\n  - {type: BatchNorm2d}\n"
    found = warnings(text, "L004")
    assert len(found) == 1 and found[0].hint == "set bias: false on this layer"
    assert (found[0].loc.line, found[0].loc.col) == (5, 53) and "8 bias values" in found[0].message


def test_l004_linear_default_bias_before_batchnorm1d() -> None:
    found = warnings(mlp("- {type: Linear, out_features: 16}\n- {type: BatchNorm1d}\n", None), "L004")
    assert len(found) == 1 and found[0].layer == "linear_2" and found[0].loc.line == 7


@pytest.mark.parametrize("text", [
    CNN + "  - {type: Conv2d, out_channels: 8, kernel_size: 3, bias: false}\n  - {type: BatchNorm2d}\n",
    CNN + "  - {type: Conv2d, out_channels: 8, kernel_size: 3}\n  - {type: ReLU}\n  - {type: BatchNorm2d}\n",
    CNN + "  - {type: Conv2d, out_channels: 8, kernel_size: 3}\n  - {type: LayerNorm, normalized_shape: [14]}\n",
    # the biased conv output is also read by a residual branch: its bias is not wasted
    CNN + "  - {type: Conv2d, out_channels: 8, kernel_size: 3, padding: 1, name: c}\n  - {type: BatchNorm2d}\n"
          "  - {type: Add, from: [c, batch_norm2d_1]}\n",
])
def test_l004_quiet(text: str) -> None:
    assert not warnings(text, "L004")


# -- L005 activation-after-logits -----------------------------------------------------------------

@pytest.mark.parametrize(("act", "loss"), [("ReLU", "CrossEntropyLoss"), ("Softplus", "MSELoss"),
                                           ("ReLU6", "BCEWithLogitsLoss")])
def test_l005_non_negative_activation_after_final_linear(act: str, loss: str) -> None:
    found = warnings(mlp(f"- {{type: Linear, out_features: 3, name: head}}\n- {{type: {act}}}\n", loss), "L005")
    assert len(found) == 1 and "'head'" in found[0].message and loss in found[0].message


@pytest.mark.parametrize(("tail", "loss"), [
    ("- {type: Linear, out_features: 3}\n- {type: ReLU}\n", None),  # no loss to judge by
    ("- {type: Linear, out_features: 3}\n- {type: Tanh}\n", "MSELoss"),  # can be negative
    ("- {type: Linear, out_features: 3}\n", "CrossEntropyLoss"),
])
def test_l005_quiet(tail: str, loss: str | None) -> None:
    assert not warnings(mlp(tail, loss), "L005")


# -- L007 linear-without-flatten ------------------------------------------------------------------

def test_l007_linear_on_a_feature_map() -> None:
    text = CNN + "  - {type: Conv2d, out_channels: 8, kernel_size: 3}\n  - {type: ReLU}\n" \
                 "  - {type: Dropout2d}\n  - {type: Linear, out_features: 10}\n"
    found = warnings(text, "L007")
    assert len(found) == 1 and found[0].loc.line == 8
    assert "Conv2d 'conv2d_1'" in found[0].message and "in_features then becomes 1568 = 8·14·14" in found[0].hint


def test_l007_after_pooling() -> None:
    text = CNN + "  - {type: MaxPool2d, kernel_size: 2}\n  - {type: Linear, out_features: 10}\n"
    assert len(warnings(text, "L007")) == 1


@pytest.mark.parametrize("text", [
    CNN + "  - {type: Conv2d, out_channels: 8, kernel_size: 3}\n  - {type: Flatten}\n"
          "  - {type: Linear, out_features: 10}\n",
    CNN + "  - {type: Conv2d, out_channels: 8, kernel_size: 3}\n  - {type: GlobalAvgPool}\n"
          "  - {type: Linear, out_features: 10}\n",
    # a sequence (B, T, D) into a Linear is the usual per-step projection
    "specc: 1\ninputs: {tokens: [B, T, 16]}\nlayers:\n  - {type: Linear, out_features: 8}\n",
])
def test_l007_quiet(text: str) -> None:
    assert not warnings(text, "L007")


# -- L008 single-logit-cross-entropy / L009 softmax-over-batch -----------------------------------

HEAD = "specc: 1\ninputs:\n  features: [B, 32]\nlayers:\n"


@pytest.mark.parametrize(("layers", "loss", "fires"), [
    ("  - {type: Linear, out_features: 1}\n", "CrossEntropyLoss", True),
    ("  - {type: Linear, out_features: 1}\n  - {type: LogSoftmax, dim: 1}\n", "NLLLoss", True),
    ("  - {type: Linear, out_features: 2}\n", "CrossEntropyLoss", False),
    ("  - {type: Linear, out_features: 1}\n", "BCEWithLogitsLoss", False),
])
def test_l008_single_logit_cross_entropy(layers: str, loss: str, fires: bool) -> None:
    text = f"{HEAD}{layers}loss: {{type: {loss}}}\n"
    assert bool(warnings(text, "L008")) is fires


@pytest.mark.parametrize(("dim", "fires"), [(0, True), (-2, True), (1, False), (-1, False)])
def test_l009_softmax_over_the_batch(dim: int, fires: bool) -> None:
    text = f"{HEAD}  - {{type: Linear, out_features: 10}}\n  - {{type: Softmax, dim: {dim}}}\n"
    found = warnings(text, "L009")
    assert bool(found) is fires
    if fires:
        assert found[0].loc is not None and found[0].loc.line == 6 and "dim: -1" in (found[0].hint or "")


# -- the rule table ------------------------------------------------------------------------------

_SECTIONS = ("What it does", "Why is this bad", "Example", "Use instead")


def _sections(doc: str) -> dict[str, str]:
    """The four documented sections of a rule's module docstring, as text."""
    out: dict[str, str] = {}
    current = None
    lines: list[str] = []
    for line in [*doc.splitlines(), "What it does"]:  # a sentinel heading flushes the last section
        heading = line.strip().rstrip(":")
        if heading in _SECTIONS and not line.startswith(" "):
            if current:
                body = textwrap.dedent("\n".join(lines)).strip()
                out[current] = body if current == "Example" else re.sub(r"\s+", " ", body)
            current, lines = heading, []
        elif current:
            lines.append(line)
    return out


@pytest.mark.parametrize("code", sorted(RULES))
def test_the_documentation_read_is_the_rule_docstring(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    sections = _sections(sys.modules[RULES[code].check.__module__].__doc__ or "")
    docs = RULES[code].docs
    def prose(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip()

    assert sections.get("What it does") == prose(docs.summary)
    assert sections.get("Why is this bad") == prose(docs.why)
    assert sections.get("Example") == docs.example
    assert sections.get("Use instead") == prose(docs.fix)
    assert (docs.code, docs.name) == (code, CODES[code].name)
    assert main(["explain", code]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{code} ({docs.name}): {docs.summary}\n")
    assert docs.fix in out and docs.example.splitlines()[0] in out


def test_the_code_table_holds_a_lint_code_and_name_only() -> None:
    lint = [c for c in CODES.values() if c.code.startswith("L")]
    assert lint and all(isinstance(c, LintCode) for c in lint)
    documented = catalogue()
    assert [c.code for c in documented] == list(CODES)  # the table's order: SARIF's rule indices
    assert all(c.summary and c.why and c.example and c.fix for c in documented)


@pytest.mark.parametrize("drop", ["What it does", "Why is this bad", "Example", "Use instead"])
def test_a_rule_docstring_without_a_section_is_refused(drop: str) -> None:
    doc = sys.modules[RULES["L002"].check.__module__].__doc__ or ""
    assert parse_rule_doc(CODES["L002"], doc, "dropout_at_end")[0] == RULES["L002"].docs  # type: ignore[arg-type]
    broken = doc.replace(f"\n{drop}\n", "\nSomething else\n")
    with pytest.raises(ValueError, match=drop):
        parse_rule_doc(CODES["L002"], broken, "dropout_at_end")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must open with 'L002 dropout-at-end:'"):
        parse_rule_doc(CODES["L002"], doc.replace("L002 dropout-at-end", "L002 dropout-last"), "dropout_at_end")  # type: ignore[arg-type]


def test_every_lint_code_has_a_rule() -> None:
    assert {c for c in CODES if c.startswith("L")} == set(RULES)


@pytest.mark.parametrize("code", ["L001", "L002", "L003", "L004", "L005", "L007", "L008", "L009"])
def test_the_documented_example_triggers_its_rule(code: str) -> None:
    inputs = "image: [B, 3, 16, 16]" if code in ("L004", "L007") else "features: [B, 32]"
    spec = check(f"specc: 1\ninputs:\n  {inputs}\n{RULES[code].docs.example}\n")
    assert [d.code for d in spec.diagnostics if d.code.startswith("L")] == [code]


def test_run_rules_can_skip_codes() -> None:
    spec = check(mlp("- {type: Linear, out_features: 10}\n- {type: Softmax}\n", "CrossEntropyLoss"))
    assert [d.code for d in run_rules(spec)] == ["L001"]
    assert run_rules(spec, ignore=["L001"]) == []


def test_a_warning_inside_a_block_used_three_times_is_given_once() -> None:
    text = CNN + "  - {type: Unit, out: 4}\n  - {type: Unit, out: 8}\n  - {type: Unit, out: 16}\nblocks:\n" \
                 "  Unit:\n    args: {out: 8}\n    layers:\n      - {type: Conv2d, out_channels: \"${out}\", " \
                 "kernel_size: 3, padding: 1}\n      - {type: BatchNorm2d}\n"
    found = warnings(text, "L004")
    assert len(found) == 1 and found[0].loc is not None and found[0].loc.line == 12


_NAMED_HEAD = """\
specc: 1
inputs:
  x: [B, 4]
layers:
  - {{type: Linear, out_features: 8}}
  - {{type: ReLU}}
  - {{type: Linear, out_features: 3{logits}}}
  - {{type: Softmax, dim: 1, name: probs}}
outputs: {outputs}
loss: {{type: CrossEntropyLoss}}
"""


@pytest.mark.parametrize(("logits", "outputs", "fix", "fixed_outputs"), [
    # outputs: names the layer the hint removes: the fix says what it names instead, and so applied checks ok
    (", name: logits", "[probs]", "remove 'probs' and list 'logits' in outputs instead", "[logits]"),
    (", name: logits", "{cls: probs}", "remove 'probs' and point output 'cls' at 'logits'", "{cls: logits}"),
    ("", "[probs]", "remove 'probs' and give its name to the layer before it (name: probs)", "[probs]"),
])
def test_a_removed_output_layer_says_what_outputs_names_instead(logits: str, outputs: str, fix: str,
                                                               fixed_outputs: str) -> None:
    spec = loads(_NAMED_HEAD.format(logits=logits, outputs=outputs), "named.yaml")
    hints = [d.hint for d in spec.diagnostics if d.code == "L001"]
    assert len(hints) == 1 and hints[0].startswith(fix + ":"), hints
    text = _NAMED_HEAD.format(logits=logits or ", name: probs", outputs=fixed_outputs)
    fixed = loads(text.replace("  - {type: Softmax, dim: 1, name: probs}\n", ""), "fixed.yaml")
    assert fixed.ok and not [d for d in fixed.diagnostics if d.code == "L001"], fixed.diagnostics
    # no outputs: at all (the last layer is the output): the plain fix
    plain = loads(_NAMED_HEAD.format(logits=logits, outputs="[probs]").replace("outputs: [probs]\n", ""), "p.yaml")
    assert next(d.hint for d in plain.diagnostics if d.code == "L001").startswith("remove 'probs':")
