"""Hints that work when applied: every hint that names a concrete edit is made, and the spec
checked again.  The error it was given for must be gone and nothing new may appear (an edit
that trades S003 for S001 is a wrong hint).

The edits a hint names, each alternative on its own:
- ``add - {...} before this layer`` / ``before it``: a layer inserted above the one in error;
- ``set key: value``, ``write key: value``, ``use key: value`` (and ``or key: value``): that
  key written on the line in error, where it is there already or the layer on it takes it
  (``set from_logits: true`` of a loss hint on a layer's line is about another line);
- ``use N for entry J``: entry J of the list in error replaced;
- ``write [a, b, c] to keep ...``: the list in error replaced.
Hints that only describe a fix ("reshape to (N, C, H, W) first") are not edits.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from pathlib import Path

import pytest

import specc
from specc.diagnostics import Diagnostic, render_text
from specc.layers import lookup

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "tests" / "corpus" / "bad").glob("*.yaml")) + sorted((ROOT / "specs" / "broken").glob("*.yaml"))

_ADD = re.compile(r"add - (\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}) before (?:this layer|it)\b")
_SET = re.compile(r"\b(?:set|write|use|or) ([a-z_]+): (-?[\w.]+|\[[^\]]*\])")
_ENTRY = re.compile(r"\buse (\S+) for entry (\d+)\b")
_LIST = re.compile(r"\bwrite (\[[^\]]*\]) to keep\b")


def _layer(**inputs: str) -> str:
    return "specc: 1\ninputs:\n" + "".join(f"  {k}: {v}\n" for k, v in inputs.items()) + "layers:\n"


# Layer errors whose hints name edits, the three of issue 12 first.
LAYER_ERRORS = [
    _layer(x="[3, 32, 32]") + "  - {type: Conv2d, out_channels: 8, kernel_size: 3}\n",
    _layer(x="[32, 32]") + "  - {type: MaxPool2d, kernel_size: 2}\n",
    _layer(x="[B, 128, 768]") + "  - {type: Reshape, shape: [B, 128]}\n",
    _layer(x="[B, T, 4, 768]") + "  - {type: Reshape, shape: [B, 4]}\n",
    _layer(x="[B, T, 768]") + "  - {type: Reshape, shape: [B, T, 12, 32]}\n",
    _layer(x="[B, 4, 4, 4]") + "  - {type: Reshape, shape: [2, 4, 4, 4]}\n",
    _layer(x="[B, 3, 32]") + "  - {type: Conv2d, out_channels: 8, kernel_size: 3}\n",
    _layer(x="[B, 16, 9]") + "  - {type: Conv3d, out_channels: 8, kernel_size: 3}\n",
    _layer(x="[B, 64]") + "  - {type: Conv2d, out_channels: 8, kernel_size: 1}\n",
    _layer(x="[B, 784]") + "  - {type: Conv2d, out_channels: 8, kernel_size: 3}\n",
    _layer(x="[B, 784]") + "  - {type: MaxPool2d, kernel_size: 2}\n",
    _layer(x="[8, 9]") + "  - {type: BatchNorm1d}\n",
    _layer(x="[B, 128, 12, 12]") + "  - {type: Flatten}\n  - {type: Linear, in_features: 1000, out_features: 10}\n",
    _layer(x="[B, 2, 3, 3]") + "  - {type: Conv2d, out_channels: 4, kernel_size: 5}\n",
    _layer(x="[B, 2, 6]") + "  - {type: Conv1d, out_channels: 4, kernel_size: 5, dilation: 2}\n",
    _layer(x="[B, 6, 8, 8]") + "  - {type: Conv2d, out_channels: 8, kernel_size: 3, groups: 4}\n",
    _layer(x="[B, 3, 6, 6]") + "  - {type: ConvTranspose1d, out_channels: 2, kernel_size: 1, padding: 1}\n",
    _layer(x="[B, 32, 32, 3]") + "  - {type: Conv2d, in_channels: 3, out_channels: 8, kernel_size: 3}\n",
    # LeNet's x.view(-1, 16 * 5 * 5) ported to a net whose maps are 14x14: no fixed N divides 3136*B.
    _layer(x="[B, 3, 32, 32]") + "  - {type: Conv2d, out_channels: 16, kernel_size: 5}\n  - {type: MaxPool2d, "
    "kernel_size: 2}\n  - {type: Reshape, shape: [-1, 400]}\n",
    # A Keras (H, W, 1) image: the window meets the colour as a width; kernel_size: 1 would "fit" it.
    _layer(x="[B, 28, 28, 1]") + "  - {type: Conv2d, out_channels: 8, kernel_size: 3}\n  - {type: MaxPool2d, "
    "kernel_size: 2}\n",
]


def _alternatives(hint: str) -> list[tuple[str, tuple[str, ...]]]:
    """Each concrete edit the hint names: (form, its values)."""
    out: list[tuple[str, tuple[str, ...]]] = [("add", (m.group(1),)) for m in _ADD.finditer(hint)]
    out += [("entry", m.groups()) for m in _ENTRY.finditer(hint)]
    out += [("list", (m.group(1),)) for m in _LIST.finditer(hint)]
    inside = " ".join(m.group(0) for m in _ADD.finditer(hint))
    out += [("set", m.groups()) for m in _SET.finditer(hint) if m.group(0) not in inside]
    return out


def _bracket(line: str, col: int) -> tuple[int, int] | None:
    """The [...] list at or after ``col`` (0-based) on ``line``."""
    start = line.find("[", col)
    if start < 0:
        start = line.rfind("[", 0, col)
    end = line.find("]", start)
    return (start, end + 1) if start >= 0 and end > start else None


def _apply(text: str, d: Diagnostic, form: str, values: tuple[str, ...]) -> str | None:
    """``text`` with the edit made on the line of ``d``; None where this test cannot place it."""
    assert d.loc is not None
    lines = text.split("\n")
    i, col = d.loc.line - 1, d.loc.col - 1
    line = lines[i]
    if form == "add":
        item = re.match(r"^(\s*)- ", line)
        if item is None:
            return None
        lines.insert(i, f"{item.group(1)}- {values[0]}")
    elif form in ("entry", "list"):
        span = _bracket(line, col)
        if span is None:
            return None
        if form == "list":
            new = values[0]
        else:
            entries = [e.strip() for e in line[span[0] + 1:span[1] - 1].split(",")]
            entries[int(values[1])] = values[0]
            new = "[" + ", ".join(entries) + "]"
        lines[i] = line[:span[0]] + new + line[span[1]:]
    else:
        key, value = values
        # a value with a decimal comma (0,001) is one value to the hint, two to YAML
        present = re.search(rf"(?<![\w]){key}:\s*(\[[^\]]*\]|[^,}}\s]+(?:,\d+(?=[,}}\s]))?)", line)
        if present and "{" not in line[:present.start()]:  # a block mapping's line: the value runs to its end
            present = re.search(rf"(?<![\w]){key}:\s*(\S(?:[^#]*\S)?)", line)
        kind = re.search(r"\btype: (\w+)", line)
        known = lookup(kind.group(1)) if kind else None
        if re.fullmatch(r"[A-Z]", value):
            return None  # a placeholder ("repeat: N"), not a value
        if present:
            lines[i] = line[:present.start(1)] + value + line[present.end(1):]
        elif known is not None and (key in known.Params.model_fields or key in ("from", "name")) and \
                line.rstrip().endswith("}"):
            end = line.rstrip().rindex("}")
            lines[i] = f"{line[:end].rstrip()}, {key}: {value}}}" + line[end + 1:]
        else:
            return None
    return "\n".join(lines)


def _edits(text: str, name: str) -> list[tuple[Diagnostic, str, str]]:
    """(error, the edit in words, the edited text) for every edit named by an error's hint."""
    spec = specc.loads(text, name)
    out = []
    for d in spec.errors:
        for form, values in _alternatives(d.hint or ""):
            edited = _apply(text, d, form, values)
            if edited is not None:
                out.append((d, f"{form} {' '.join(values)}", edited))
    return out


def _recheck(text: str, name: str, d: Diagnostic, what: str, edited: str) -> None:
    before = Counter(e.code for e in specc.loads(text, name).errors)
    before[d.code] -= 1
    after = specc.loads(edited, name)
    new = Counter(e.code for e in after.errors) - before
    shown = "\n".join(render_text(e) for e in after.errors)
    assert not new, f"{name}: applying the hint of {d.code} ({what}) gives\n{shown}\n--- edited spec:\n{edited}"


@pytest.mark.parametrize("text", LAYER_ERRORS, ids=[t.split("\n")[-2].strip() for t in LAYER_ERRORS])
def test_layer_error_hints_pass_check_once_applied(text: str) -> None:
    edits = _edits(text, "layer.yaml")
    for d, what, edited in edits:
        _recheck(text, "layer.yaml", d, what, edited)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_hints_pass_check_once_applied(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for d, what, edited in _edits(text, path.name):
        _recheck(text, path.name, d, what, edited)


def test_the_edits_are_found() -> None:
    """The parser above is what makes the tests above able to fail: it must find the edits."""
    found = [what for text in LAYER_ERRORS for _, what, _ in _edits(text, "layer.yaml")]
    assert "add {type: Reshape, shape: [1, 3, 32, 32]}" in found
    assert "add {type: Reshape, shape: [1, 1, 32, 32]}" in found
    assert "list [B, 128, 768]" in found
    assert "entry 64 3" in found
    assert "add {type: Permute, dims: [0, 3, 1, 2]}" in found
    assert "list [B, 3136]" in found
    corpus = [what for p in FILES for _, what, _ in _edits(p.read_text(encoding="utf-8"), p.name)]
    assert len(corpus) >= 15, corpus
    assert any(w.startswith("add ") for w in corpus) and any(w.startswith("set ") for w in corpus)


def test_no_batch_of_one_where_the_kernel_needs_room() -> None:
    """Issue 12: (C, H, W) into Conv2d was told to reshape to (C, H, W, 1), an S001 of its own."""
    spec = specc.loads(textwrap.dedent(LAYER_ERRORS[0]), "c.yaml")
    (err,) = spec.errors
    assert "[3, 32, 32, 1]" not in (err.hint or "") and "[1, 3, 32, 32]" in (err.hint or "")
