"""Resource limits: every limit in docs/spec.md ("Limits") is a located error that names the
limit, answered fast whatever the input, and a corpus of hostile files is answered by
`specc check` as a process within the time and memory bounds.

Run as a script to print each hostile file's real time and peak memory:

    python tests/test_limits.py
"""

from __future__ import annotations

import functools
import itertools
import os
import random
import string
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

import specc
from specc.diagnostics import Diagnostic, Location, SpecError, render_text, source_lines
from specc.load.expand import MAX_BLOCK_DEPTH, MAX_LAYERS
from specc.load.limits import MAX_EXPANDED_VALUES, MAX_REPORTED
from specc.load.yaml_loader import MAX_BYTES, MAX_DEPTH, load_yaml, read_spec
from specc.shapes.formulas import conv_out, divisors, min_conv_input

ROOT = Path(__file__).resolve().parents[1]
HEAD = "specc: 1\ninputs:\n  x: [B, 16]\nlayers:\n"


def errors(text: str, overrides: list[str] | None = None) -> list[tuple[str, int, int, str]]:
    spec = specc.loads(text, "t.yaml", overrides)
    return [(d.code, d.loc.line if d.loc else 0, d.loc.col if d.loc else 0, d.message) for d in spec.errors]


def only(text: str, code: str, overrides: list[str] | None = None) -> tuple[int, int, str]:
    errs = errors(text, overrides)
    assert [e[0] for e in errs] == [code], errs
    return errs[0][1:]


# -- nesting -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, line", [
    ("specc: 1\nx: " + "[" * 30_000 + "\n", 2),  # killed the process with a C stack overflow
    ("specc: 1\nx: " + "[" * 1_000 + "]" * 1_000 + "\n", 2),
    ("specc: 1\nx: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n", 2),
    ("specc: 1\nx:\n  " + "- " * 30_000 + "a\n", 3),
    ("specc: 1\nx:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 1_000)), 67),
])
def test_deep_nesting_is_a_located_error(text: str, line: int) -> None:
    at_line, col, message = only(text, "Y003")
    assert at_line == line and col > 1 and f"{MAX_DEPTH} levels" in message


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_DEPTH - 1  # the root mapping is level 0, x's list level 1
    value = load_yaml("x: " + "[" * depth + "1" + "]" * depth + "\n", "t.yaml")["x"]
    for _ in range(depth - 1):
        value = value[0]
    assert value == [1]


def test_recursive_alias_is_refused_not_followed() -> None:
    assert "an alias inside the anchor it names" in only("specc: 1\nx: &a [1, *a]\n", "Y003")[2]
    assert "counting every value an alias repeats" in only("specc: 1\nx: [" + "1, " * 250_000 + "]\n", "Y003")[2]


# -- numbers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "9" * 4_400,  # Python's int() refuses more than 4,300 digits with a ValueError
    "!!int " + "7" * 5_000,
    "0x" + "f" * 100_000,
    "18446744073709551616",  # 2**64
    "9223372036854775808",  # 2**63: torch unpacks every size and stride as int64
    "18446744073709551615",  # 2**64 - 1: a stride this large passed check and failed inside torch
    "-18446744073709551616",
    "1" + "0" * 400 + ".0",  # a float literal that overflows to inf
    "1e400",
])
def test_numbers_beyond_64_bits_are_located(value: str) -> None:
    line, col, message = only(HEAD + f"  - {{type: Linear, out_features: {value}}}\n", "Y008")
    assert (line, col) == (5, 34) and "too large" in message and len(message) < 200


def test_a_huge_number_on_the_command_line_is_located_there() -> None:
    spec = specc.loads("specc: 1\nvars: {n: 4}\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Linear, out_features: "
                       "'${n}'}\n", "t.yaml", ["n=" + "9" * 5_000])
    assert [(d.code, d.loc) for d in spec.errors] == [("Y008", Location("<command line>", 1, 1))]


@pytest.mark.parametrize("expr, words", [
    ("${int(1e300)}", "too large"),
    ("${2**62 * 4}", "too large"),
    ("${round(5, -10**18)}", "digits"),  # 10**(10**18) never finishes
    ("${1e300 * 1e300}", "not a finite number"),
    ("${1e309 * 0}", "not a finite number"),
    ("${9 ** 100}", "power"),
    ("${100000000000000000000000}", "too large"),
    ("${1e400}", "not a finite number"),
    ("${" + "(" * 90 + "1" + ")" * 90 + "}", None),  # deep but short: evaluates
])
def test_expressions_are_bounded(expr: str, words: str | None) -> None:
    errs = errors(HEAD.replace("layers:\n", f"vars: {{v: '{expr}'}}\nlayers:\n") +
                  "  - {type: Linear, out_features: 4}\n")
    if words is None:
        assert errs == []
    else:
        assert [e[0] for e in errs] == ["X004"] and words in errs[0][3], errs


def _splice_doubling(depth: int) -> str:
    rows = "".join(f"  v{i}: 'x${{v{i - 1}}}${{v{i - 1}}}'\n" for i in range(1, depth))
    return f"specc: 1\nvars:\n  v0: {'a' * 1000}\n{rows}inputs:\n  x: [B, 16]\nlayers:\n  - {{type: ReLU}}\n"


def test_spliced_text_is_bounded() -> None:
    # 40 vars that each splice the one before twice asked for a terabyte; check ran until killed
    line, col, message = only(_splice_doubling(40), "X004")
    assert (line, col) == (7, 7) and "10,000 characters" in message  # v4: 16,000 characters
    assert specc.loads(_splice_doubling(4)).ok  # v3: 8,000 characters


def test_min_conv_input_is_a_search_not_a_count() -> None:
    def one_by_one(*a: int | bool) -> int:
        size = 1
        while conv_out(size, *a) < 1:  # type: ignore[arg-type]
            size += 1
        return size

    for a in itertools.product(range(1, 8), range(1, 4), range(0, 5), range(1, 4), (False, True)):
        assert min_conv_input(*a) == one_by_one(*a), a
    assert min_conv_input(10**18, 1, 0, 10**18) == 10**36 - 10**18 + 1  # instant, not 10**36 steps


def test_divisors_are_exact_for_sizes_in_use_and_fast_beyond() -> None:
    for n in range(1, 600):
        assert divisors(n) == [d for d in range(1, n + 1) if n % d == 0]
    found = divisors(2**31, near=32_000)  # a hint's worth: the small ones, their cofactors, those near 32,000
    assert set(found) <= {2**i for i in range(32)} and {1, 2, 2**15, 2**30, 2**31} <= set(found)
    assert divisors(2**31 - 1, near=1000) == [1, 2**31 - 1]  # a prime: every divisor, in milliseconds


def test_a_huge_kernel_gets_its_hint_fast() -> None:
    text = ("specc: 1\ninputs: {x: [B, 3, 32, 32]}\nlayers:\n"
            "  - {type: Conv2d, out_channels: 4, kernel_size: 1000000000000000000, dilation: 9000000000}\n")
    assert only(text, "S002")[:2] == (4, 50)


# -- expansion -----------------------------------------------------------------------------------

def _doubling_blocks(depth: int) -> str:
    body = "".join(f"  B{i}:\n    layers:\n      - {{type: B{i + 1}}}\n      - {{type: B{i + 1}}}\n"
                   for i in range(depth))
    return (f"specc: 1\ninputs:\n  x: [B, 16]\nblocks:\n{body}  B{depth}:\n    layers:\n      - {{type: ReLU}}\n"
            "layers:\n  - {type: B0}\n")


def test_repeat_beyond_the_limit_is_refused_at_the_repeat() -> None:
    line, col, message = only(HEAD + "  - {type: Linear, out_features: 16, repeat: 1000000}\n", "X005")
    assert (line, col) == (5, 46) and f"{MAX_LAYERS:,}" in message


def test_blocks_using_the_next_twice_are_counted_not_expanded() -> None:
    text = _doubling_blocks(40)  # 2**41 layers; 17.8 GB and still expanding after 149 s, once
    line, _, message = only(text, "X005")
    assert line == text.count("\n") and "block 'B0'" in message and f"{MAX_LAYERS:,}" in message


def _copied_list(items: int, uses: int) -> str:
    return ("specc: 1\ninputs:\n  x: [B, 16]\nblocks:\n  Blk:\n    layers:\n      - {type: ReLU, ignore: ["
            + ", ".join(["L001"] * items) + "]}\nlayers:\n" + "  - {type: Blk}\n" * uses)


def test_values_copied_by_blocks_are_bounded() -> None:
    # a 100,000-item list in a block used 1,000 times: 10**8 values, minutes of checking
    line, _, message = only(_copied_list(100_000, 1_000), "X005")
    assert line == 7 and f"{MAX_EXPANDED_VALUES:,} values" in message
    assert specc.loads(_copied_list(1_000, 100)).ok


def test_a_long_written_list_is_refused_too() -> None:
    line, _, message = only(HEAD + "  - {type: ReLU}\n" * (MAX_LAYERS + 5), "X005")
    assert line > MAX_LAYERS and f"{MAX_LAYERS + 5:,} layers" in message


def test_a_block_argument_that_raises_a_repeat_is_caught_while_expanding() -> None:
    text = ("specc: 1\ninputs: {x: [B, 16]}\nblocks:\n  R:\n    args: {n: 1}\n    layers:\n"
            "      - {type: Linear, out_features: 16, repeat: '${n}'}\nlayers:\n  - {type: R, n: 1000000}\n"
            "  - {type: R, n: 2}\n")
    assert only(text, "X005")[0] == 9


def test_block_nesting_depth_is_bounded() -> None:
    depth = MAX_BLOCK_DEPTH + 8
    body = "".join(f"  C{i}:\n    layers:\n      - {{type: C{i + 1}}}\n" for i in range(depth))
    text = (f"specc: 1\ninputs: {{x: [B, 16]}}\nblocks:\n{body}  C{depth}:\n    layers:\n      - {{type: ReLU}}\n"
            "layers:\n  - {type: C0}\n")
    line, _, message = only(text, "X005")
    assert line == 4 + 3 * MAX_BLOCK_DEPTH - 1 and f"more than {MAX_BLOCK_DEPTH} deep" in message


def test_up_to_the_limit_is_fine() -> None:
    spec = specc.loads(HEAD + f"  - {{type: ReLU, repeat: {MAX_LAYERS - 1}}}\n")  # the group counts as one
    assert spec.ok, spec.diagnostics
    assert sum(1 for _ in spec.graph.walk()) == MAX_LAYERS  # type: ignore[union-attr]


def test_errors_past_the_listed_limit_are_counted_at_the_next_one() -> None:
    n = MAX_REPORTED + 250  # each var reads the next, not yet defined: one X001 per line
    text = ("specc: 1\nvars:\n" + "".join(f"  v{i}: '${{v{i + 1} + 1}}'\n" for i in range(n))
            + "inputs: {x: [B, 16]}\nlayers:\n  - {type: ReLU}\n")
    errs = errors(text)
    assert len(errs) == MAX_REPORTED + 1 and {e[0] for e in errs} == {"X001"}
    assert errs[-1][1] == 3 + MAX_REPORTED and f"and {n - MAX_REPORTED:,} more errors" in errs[-1][3]


def test_many_vars_and_many_misspellings_are_answered_in_linear_time() -> None:
    # each undefined name was compared with every var and every var listed in its hint: 4,000 of
    # each took 130 s and printed hints of 40,000 characters
    names = ["".join(random.Random(i).choices(string.ascii_lowercase, k=8)) for i in range(2_000)]
    text = ("specc: 1\nvars:\n" + "".join(f"  {n}: {i}\n" for i, n in enumerate(names))
            + "".join(f"  u{i}: '${{zz{i} + 1}}'\n" for i in range(2_000)) + "inputs: {x: [B, 16]}\nlayers:\n"
            "  - {type: ReLU}\n")
    start = time.perf_counter()
    spec = specc.loads(text)
    assert time.perf_counter() - start < 10  # a hang bound, not a speed test
    assert len(spec.errors) == MAX_REPORTED + 1 and all(len(d.hint or "") < 200 for d in spec.errors)


# -- sizes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("inputs, layer, code, words", [
    ("[B, 16]", "{type: Linear, out_features: 1099511627776}", "S011", "over 2,147,483,647"),
    ("[B, 2000000000, 4, 4]", "{type: Conv2d, out_channels: 2000000000, kernel_size: 4}", "S011", "parameters"),
    ("[B, 3, 8, 8]", "{type: Conv2d, out_channels: 4, kernel_size: 1, padding: 4000000000}", "S011", "dimension"),
    ("[B, 3000000000]", "{type: ReLU}", "V003", "2,147,483,647"),
    ("[B, 2000000000, 2000000000, 2000000000]", "{type: ReLU}", "V003", "elements"),
])
def test_sizes_no_framework_can_allocate(inputs: str, layer: str, code: str, words: str) -> None:
    errs = errors(f"specc: 1\ninputs:\n  x: {inputs}\nlayers:\n  - {layer}\n")
    assert [e[0] for e in errs] == [code] and words in errs[0][3], errs
    assert errs[0][1] in (3, 5)


def test_parameters_beyond_memory_get_a_warning_with_the_size() -> None:
    text = ("specc: 1\ninputs:\n  x: [B, 100000]\nlayers:\n"
            + "  - {type: Linear, out_features: 100000}\n  - {type: ReLU}\n" * 2)
    spec = specc.loads(text)
    assert spec.ok
    (w,) = spec.diagnostics
    assert (w.code, w.severity, w.loc.line if w.loc else 0) == ("S012", "warning", 5)
    assert "80.0 GB" in w.message and "20,000,200,000 parameters" in w.message
    assert not specc.loads(text.replace("layers:", "lint: {ignore: [S012]}\nlayers:")).diagnostics


# -- names ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, code", [
    (HEAD + '  - {type: Linear, out_features: 4, name: "fc\\n"}\n', "V006"),
    (HEAD + '  - {type: Linear, out_features: 4, name: "fc\\u0000"}\n', "V006"),
    ('specc: 1\ninputs:\n  "x\\t": [B, 16]\nlayers:\n  - {type: ReLU}\n', "V006"),
    ('specc: 1\ninputs:\n  x: [B, "T\\n", 4]\nlayers:\n  - {type: ReLU}\n', "V003"),
    ('specc: 1\nname: "Net\\r"\ninputs:\n  x: [B, 4]\nlayers:\n  - {type: ReLU}\n', "V006"),
    (HEAD + '  - {type: ReLU, name: a}\noutputs: {"out\\n": a}\n', "V006"),
    ('specc: 1\ninputs: {x: [B, 4]}\nblocks:\n  "Blk\\n": {layers: [{type: ReLU}]}\nlayers:\n  - {type: ReLU}\n',
     "V006"),
])
def test_control_characters_in_names_and_symbols_are_refused(text: str, code: str) -> None:
    errs = errors(text)
    assert code in [e[0] for e in errs] and all(e[1] > 1 for e in errs), errs
    assert any("control character" in e[3] for e in errs), errs


@pytest.mark.parametrize("text, at, shown", [
    ("specc: 1\n1: 3\ninputs: {x: [B, 4]}\nlayers: [{type: ReLU}]\n", (2, 1), "the key 1 at the top level"),
    ("specc: 1\n~: 3\ninputs: {x: [B, 4]}\nlayers: [{type: ReLU}]\n", (2, 1), "the key null"),
    (HEAD + "  - {type: ReLU, true: 1}\n", (5, 18), "ReLU 'relu_1': the key true"),
    (HEAD + "  - {type: ReLU}\noptimizer: {type: Adam, 1.5: 2}\n", (6, 25), "the key 1.5 in optimizer"),
])
def test_a_key_yaml_reads_as_a_number_or_null_is_named_as_written(text: str, at: tuple[int, int], shown: str) -> None:
    # was "the value must be a mapping, got true": pydantic's "Keys should be strings", misread
    line, col, message = only(text, "V001")
    assert (line, col) == at and message.startswith(shown) and "not a name" in message


@pytest.mark.parametrize("expr, odd", [("${\ufb01lter}", "\ufb01"), ("${\uff4e * 2}", "\uff4e"),
                                       ("${\uff4dax(n, 2)}", "\uff4d")])
def test_a_look_alike_name_in_an_expression_is_not_read_as_another(expr: str, odd: str) -> None:
    # Python reads identifiers in NFKC form: '${\ufb01lter}' silently meant the variable 'filter'
    text = ("specc: 1\nvars: {filter: 4, n: 4}\ninputs:\n  x: [B, 16]\nlayers:\n"
            f"  - {{type: Linear, out_features: '{expr}'}}\n")
    line, col, message = only(text, "X002")
    assert (line, col) == (6, 34) and odd in message and "ASCII" in message
    assert specc.loads(text.replace(expr, '${"caf\u00e9" and n}')).ok  # text inside quotes may be anything


# -- files ---------------------------------------------------------------------------------------

def test_a_huge_file_is_refused_by_its_size_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:  # sparse: 500 MB on paper, nothing on disk
        f.truncate(500_000_000)
    reads: list[int] = []
    real_open = open

    class Watch:
        def __init__(self, f):  # type: ignore[no-untyped-def]
            self.f = f

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *a):  # type: ignore[no-untyped-def]
            self.f.close()

        def fileno(self) -> int:
            return self.f.fileno()

        def read(self, n: int = -1) -> bytes:
            reads.append(n)
            return self.f.read(n)

    monkeypatch.setattr("builtins.open", lambda p, m="r", *a, **k: Watch(real_open(p, m, *a, **k)))
    with pytest.raises(SpecError) as e:
        read_spec(big, "big.yaml")
    assert e.value.code == "Y003" and "500.0 MB" in e.value.message
    assert all(0 <= n <= MAX_BYTES + 1 for n in reads)


def test_binary_and_non_utf8_files_are_located(tmp_path: Path) -> None:
    binary = tmp_path / "model.yaml"
    binary.write_bytes(b"specc: 1\nlayers: \x00\x01\x02")
    (d,) = specc.load(binary).errors
    assert (d.code, d.loc) == ("Y006", Location(str(binary), 2, 9)) and "binary" in d.message
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"specc: 1\nname: caf\xe9\n")
    (d,) = specc.load(latin).errors
    assert (d.code, d.loc) == ("Y006", Location(str(latin), 2, 10)) and "0xe9" in d.message


def test_text_that_is_not_unicode_is_located() -> None:
    # Only a caller's str can hold a lone surrogate (a file is decoded strictly); libyaml raised on it.
    spec = specc.loads("specc: 1\nname: ab\ud800\n", "t.yaml")
    assert [(d.code, d.loc) for d in spec.errors] == [("Y006", Location("t.yaml", 2, 9))]
    (d,) = specc.loads("é" * 1_500_000, "t.yaml").errors  # 1.5 M characters, 3 MB
    assert d.code == "Y003" and "2 MB" in d.message


@pytest.mark.parametrize("text, at", [
    ("specc: 1\ninputs:\n  x: [B, 16]\x0c\nlayers: []\n", (3, 13)),  # a form feed pasted from a PDF
    ('specc: 1\nname: "\u65e5\u672c\x1b[31m"\n', (2, 10)),  # after wide characters: a column, not a byte
    ("specc: 1\rname: x\r  \x07\r", (3, 3)),  # CR-only line endings count as lines, as YAML counts them
    ("specc: 1\n# " + "\u00e9" * 250_000 + "\nx: \x7f\n", (3, 4)),  # past the size PyYAML re-reads: libyaml's offset
])
def test_control_characters_in_the_file_are_located(text: str, at: tuple[int, int]) -> None:
    line, col, message = only(text, "Y006")
    assert (line, col) == at and "U+00" in message and "\n" not in message


def test_loads_takes_text_or_bytes_and_says_so_for_anything_else() -> None:
    good = HEAD + "  - {type: ReLU}\n"
    assert specc.loads(good.encode("utf-8")).ok and specc.loads(bytearray(good.encode("utf-8"))).ok
    for data in (b"specc: 1\nname: caf\xe9\n", b"specc: 1\rname: caf\xe9\r"):  # CR-only lines count as YAML's do
        (d,) = specc.loads(data, "t.yaml").errors
        assert (d.code, d.loc) == ("Y006", Location("t.yaml", 2, 10))
    for bad in (None, 42, ["specc: 1"]):
        with pytest.raises(TypeError, match="text must be str"):
            specc.loads(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="overrides"):
        specc.loads(good, "t.yaml", "n=3")  # type: ignore[arg-type]
    assert specc.loads(good, Path("t.yaml")).path == "t.yaml"  # type: ignore[arg-type]


@pytest.mark.parametrize("overrides, code, words", [
    ({"n": 10**5000}, "Y008", "too large"),  # str() of it raised ValueError out of specc.loads
    ({"n": b"8"}, "X003", "bytes"),
    ({"n": [8]}, "X003", "list"),
    ({3: 8}, "X003", "name must be text"),
    ([3], "X003", "'name=value' string"),
])
def test_overrides_from_python_are_bounded_like_the_command_line(overrides: object, code: str, words: str) -> None:
    spec = specc.loads("specc: 1\nvars: {n: 4}\ninputs: {x: [B, 4]}\nlayers:\n  - {type: Linear, out_features: "
                       "'${n}'}\n", "t.yaml", overrides)  # type: ignore[arg-type]
    assert [(d.code, d.loc) for d in spec.errors] == [(code, Location("<command line>", 1, 1))]
    assert words in spec.errors[0].message


# -- how a located error is shown -----------------------------------------------------------------

def _caret_line(text: str, col: int) -> tuple[str, str]:
    shown = render_text(Diagnostic("V003", "m", Location("t.yaml", 1, col)), source_lines=source_lines(text))
    return shown.splitlines()[1].split(" | ", 1)[1], shown.splitlines()[2][len("   1 | "):]


@pytest.mark.parametrize("text", [
    "- {name: \u65e5\u672c\u8a9e, out: nope}",  # wide characters take two columns each
    "- {name: \"e\u0301e\u0301\", out: nope}",  # combining accents take none
    "- {a: 1,\tout: nope}",  # a tab moves the caret as far as it moves the text
])
def test_the_caret_is_under_the_column_on_screen(text: str) -> None:
    under = "nope"
    line, caret = _caret_line(text, text.index(under) + 1)
    assert caret.endswith("^") and line == text
    width = sum(0 if unicodedata.category(ch) == "Mn" else 2 if unicodedata.east_asian_width(ch) == "W" else 1
                for ch in line.split(under)[0] if ch != "\t")
    assert caret.replace("\t", "").index("^") == width and caret.count("\t") == line.split(under)[0].count("\t")


def test_a_source_line_never_drives_the_terminal_and_a_long_one_is_cut() -> None:
    line, caret = _caret_line('name: "\x1b[2J\x1b]0;pwned\x07"', 7)
    assert not any(ord(ch) < 0x20 for ch in line) and "\u241b[2J" in line and caret.index("^") == 6
    long = "x: " + "a" * 500_000 + " nope " + "b" * 500_000
    line, caret = _caret_line(long, long.index("nope") + 1)
    assert len(line) < 200 and line[caret.index("^"):].startswith("nope")


def test_a_message_that_quotes_the_spec_is_shown_with_escapes() -> None:
    # YAML's "\\e[2J" in a layer type reached the terminal raw in "unknown layer type '...'"
    spec = specc.loads(HEAD + '  - {type: "Lin\\e[2J\\rear\\u202e", out_features: 4}\n', "t.yaml")
    (d,) = spec.errors
    assert "\x1b" in d.message  # the diagnostic keeps the value; only its rendering escapes it
    shown = render_text(d, source_lines=source_lines(spec.text))
    assert "unknown layer type 'Lin\\x1b[2J\\rear\\u202e'" in shown
    assert all(ch.isprintable() for ch in shown.replace("\n", ""))


def test_a_caret_past_the_end_of_the_line_stays_there() -> None:
    assert _caret_line("- {a: \u65e5", 9)[1] == " " * 9 + "^"  # one past the end, the wide character counted


def test_source_lines_are_counted_as_yaml_counts_them() -> None:
    assert source_lines("a\r\nb\rc\x0cd\ne\u2028f") == ["a", "b", "c\x0cd", "e", "f"]


# -- the hostile corpus, as processes --------------------------------------------------------------

def _write(text: str) -> Callable[[Path], None]:
    return lambda p: p.write_text(text, encoding="utf-8")


def _sparse(p: Path) -> None:
    with open(p, "wb") as f:
        f.truncate(500_000_000)


def _laughs(p: Path) -> None:
    rows = ["specc: 1", 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in itertools.pairwise("abcdefghij"):
        rows.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")


def _merge_laughs(p: Path) -> None:
    rows = ["specc: 1", "a0: &a0 {" + ", ".join(f"k{i}: {i}" for i in range(50)) + "}"]
    for i in range(1, 30):
        rows.append(f"a{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}], x{i}: [*a{i - 1}, *a{i - 1}]}}")
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")


HOSTILE: dict[str, Callable[[Path], None]] = {
    "flow_30000_open": _write("specc: 1\nx: " + "[" * 30_000 + "\n"),
    "flow_1000_closed": _write("specc: 1\nx: " + "[" * 1_000 + "]" * 1_000 + "\n"),
    "flow_maps_20000": _write("specc: 1\nx: " + "{a: " * 20_000 + "1" + "}" * 20_000 + "\n"),
    "block_seq_30000": _write("specc: 1\nx:\n  " + "- " * 30_000 + "a\n"),
    "block_maps_1500": _write("specc: 1\nx:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 1_500))),
    "blocks_doubling_40": _write(_doubling_blocks(40)),
    "repeat_million": _write(HEAD + "  - {type: Linear, out_features: 16, repeat: 1000000}\n"),
    "layers_60000": _write(HEAD + "  - {type: ReLU}\n" * 60_000),
    "digits_4400": _write(HEAD + f"  - {{type: Linear, out_features: {'9' * 4_400}}}\n"),
    "int_tag_digits": _write(HEAD + f"  - {{type: Linear, out_features: !!int {'7' * 100_000}}}\n"),
    "hex_digits": _write(HEAD + f"  - {{type: Linear, out_features: 0x{'f' * 1_000_000}}}\n"),
    "twenty_digit_sizes": _write("specc: 1\ninputs: {x: [B, 3, 64, 64]}\nlayers:\n  - {type: Conv2d, out_channels: "
                                 "99999999999999999, kernel_size: 9999999999999999999, dilation: 9999999999}\n"),
    "expr_power_tower": _write(HEAD.replace("layers:", "vars: {a: '${9 ** 64 ** 64}', b: '${round(3, -10**18)}'}"
                                            "\nlayers:") + "  - {type: ReLU}\n"),
    "splice_doubling_40": _write(_splice_doubling(40)),
    "block_copies_big_list": _write(_copied_list(100_000, 1_000)),
    "expr_many": _write("specc: 1\nvars: {a: 3}\ninputs: {x: [B, 16]}\nlayers:\n  - {type: ReLU}\n"
                        "description: [" + ", ".join(["'${a * a + a}'"] * 50_000) + "]\n"),
    "huge_out_features": _write(HEAD + "  - {type: Linear, out_features: 9223372036854775807}\n"),
    "python_tags": _write("specc: 1\nx: !!python/object/apply:os.system ['touch /tmp/specc-pwned']\n"
                          "y: !!python/name:os.system ''\nz: !<tag:yaml.org,2002:python/object:os.Popen> {}\n"),
    "billion_laughs": _laughs,
    "merge_key_bomb": _merge_laughs,
    "huge_file_500mb": _sparse,
    "binary_1mb": lambda p: p.write_bytes(os.urandom(1_000_000)),
    "one_long_scalar": _write("specc: 1\nname: " + "a" * 1_900_000 + "\n"),
    "unclosed_quote": _write("specc: 1\nname: \"" + "ab\\n" * 400_000 + "\n"),
    "many_keys": _write("specc: 1\nx:\n" + "".join(f"  k{i}: {i}\n" for i in range(110_000))),
    "many_values": _write("specc: 1\nx: [" + ", ".join("1" * 1 for _ in range(600_000)) + "]\n"),
    "unicode_names": _write(HEAD + "".join(f"  - {{type: ReLU, name: \"\u0440\u0435\u043bu{i}\\u202e\"}}\n"
                                           for i in range(2_000))),
    "control_char_late": _write("specc: 1\n# " + "\u00e9" * 900_000 + "\nname: \"a\x1bb\"\n"),  # libyaml's byte offset
    "long_line_error": _write(HEAD + "  - {type: Linear, out_features: nope}  # " + "x" * 1_900_000 + "\n"),
    "cr_only_lines": _write((HEAD + "  - {type: ReLU}\n" * 9_000 + "  - {type: Linear, out_features: nope}\n")
                            .replace("\n", "\r")),
    "vars_forward_30000": _write("specc: 1\nvars:\n" + "".join(f"  v{i}: '${{v{i + 1} + 1}}'\n" for i in range(30_000))
                                 + "inputs:\n  x: [B, 16]\nlayers:\n  - {type: Linear, out_features: '${v0}'}\n"),
    "bom_crlf_keys": _write("\ufeffspecc: 1\r\n1: 2\r\n~: 3\r\ntrue: 4\r\n" + HEAD.replace("\n", "\r\n")
                            + "  - {type: Linear, out_features: 18446744073709551615}\r\n"),
    "control_chars": _write(HEAD + "  - {type: Linear, out_features: 4, name: \"fc\\n\"}\n"
                            "  - {type: ReLU, name: \"a\\u0000b\"}\n"),
}

# A hang bound, not a speed test: CPU seconds of the check's process (waiting on a loaded machine does
# not count), and never less than ten times what a one-layer spec's check takes in the same run.
TIME_BOUND_S = float(os.environ.get("SPECC_HOSTILE_SECONDS", "10"))
MEMORY_BOUND_MB = 300


# Peak memory is measured by a small launcher process: Linux keeps a process's peak RSS
# across exec, so a child forked straight from a test process that has imported torch would
# report the parent's gigabyte. The launcher's own child is forked from a 10 MB interpreter.
_LAUNCHER = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"\\n@@ {code} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}")
"""


def run_check(path: Path) -> tuple[int, float, float, str]:
    """`specc check` on one file as its own process: exit code, CPU seconds, peak RSS in MB, and
    its first error (or ok) line and the end of its output."""
    proc = subprocess.run([sys.executable, "-c", _LAUNCHER, sys.executable, "-m", "specc", "check", str(path)],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    text = proc.stdout.decode("utf-8", "replace")
    text, _, tail = text.rpartition("\n@@ ")
    code, seconds, peak_kb = tail.split()
    answer = next((ln for ln in text.splitlines() if "error[" in ln or ": ok" in ln), text[-300:])
    return int(code), float(seconds), int(peak_kb) / 1024, answer[:300] + "\n" + text[-300:]


@functools.cache
def _plain_check_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plain.yaml"
        path.write_text(HEAD + "  - {type: Linear, out_features: 4}\n", encoding="utf-8")
        return run_check(path)[1]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_answered_within_bounds(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.yaml"
    HOSTILE[name](path)
    code, seconds, peak_mb, tail = run_check(path)
    assert code in (0, 1), tail
    assert "Traceback" not in tail and "internal error" not in tail, tail
    assert peak_mb < MEMORY_BOUND_MB, f"{peak_mb:.0f} MB"
    bound = max(TIME_BOUND_S, 10 * _plain_check_seconds())
    assert seconds < bound, f"{seconds:.1f} CPU s (the bound: {bound:.1f} s)"


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'file':22} {'exit':>4} {'CPU s':>8} {'peak MB':>8}  first line of the answer")
        for name in sorted(HOSTILE):
            path = Path(tmp) / f"{name}.yaml"
            HOSTILE[name](path)
            code, seconds, peak_mb, answer = run_check(path)
            first = answer.splitlines()[0].split(": ", 1)[-1] if answer.strip() else ""
            print(f"{name:22} {code:>4} {seconds:>8.2f} {peak_mb:>8.0f}  {first[:100]}")
            path.unlink()


def test_many_unknown_from_names_stay_linear_and_short() -> None:
    # 4,000 from: names that name nothing took 86 s: every error searched and listed every layer name.
    layers = "".join(f"  - {{type: ReLU, name: r{i}}}\n  - {{type: ReLU, from: nope{i}}}\n" for i in range(1500))
    t0 = time.perf_counter()
    spec = specc.loads("specc: 1\ninputs:\n  x: [B, 4]\nlayers:\n" + layers)
    assert time.perf_counter() - t0 < 30  # a hang bound, not a timing: about a second here
    g001 = [d for d in spec.errors if d.code == "G001"]
    assert g001 and all(d.hint and len(d.hint) < 200 for d in g001)
    assert g001[0].hint == "did you mean 'r0'?" or "r0" in (g001[0].hint or "")


@pytest.mark.parametrize("section", ["optimizer: {type: Adam, lr: .inf}",
                                     "optimizer: {type: SGD, lr: 0.1, weight_decay: .nan}",
                                     "train: {grad_clip: .inf}"])
def test_training_sections_take_no_nan_or_inf(section: str) -> None:
    # They passed check and trained to NaN.
    spec = specc.loads("specc: 1\ninputs:\n  x: [B, 4]\nlayers:\n  - {type: Linear, out_features: 2}\n"
                       "loss: {type: CrossEntropyLoss}\n" + section + "\n")
    (err,) = spec.errors
    assert err.code == "V003" and err.loc is not None and err.loc.line == 7, err
