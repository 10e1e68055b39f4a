"""Formatting of the generated source: ``ruff format`` when ruff is installed, else a small
formatter of our own that writes what ruff writes for the code specc generates (the
tests hold it to ruff's output on every example spec and golden file).

One layout choice comes first either way, because ruff never makes it: a trailing comment
that would make its line too long moves onto its own line above the statement.
"""

from __future__ import annotations

import functools
import itertools
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

LINE = 88  # ruff's and black's default, so the file is formatted for most projects as is
RUFF_TIMEOUT_S = 60


def format_source(source: str) -> str:
    """``source`` formatted by ruff when it is installed (and works), else by :func:`tidy`."""
    ruff = ruff_binary()
    if ruff is not None:
        formatted = ruff_format(place_comments(source), ruff)
        if formatted is not None:
            return formatted
    return tidy(source)


@functools.lru_cache(maxsize=1)
def ruff_binary() -> str | None:
    """The ruff executable: the one the ``ruff`` package installed beside this Python, else
    one on PATH, else None."""
    try:
        from ruff.__main__ import find_ruff_bin  # the wheel's own lookup of its binary
    except ImportError:
        return shutil.which("ruff")
    try:
        return str(find_ruff_bin())
    except FileNotFoundError:
        return shutil.which("ruff")


def ruff_format(source: str, ruff: str) -> str | None:
    """``ruff format`` of ``source`` with ruff's defaults (no project settings), or None when
    ruff fails: the fallback formatter writes the file instead."""
    try:
        return _ruff_format(source, ruff)
    except (OSError, subprocess.SubprocessError):
        return None


# A process often writes one module several times (build, then export or train, all compile
# it); ruff's output depends on its input alone.  Failures raise, so they are never kept.
@functools.lru_cache(maxsize=32)
def _ruff_format(source: str, ruff: str) -> str:
    done = subprocess.run([ruff, "format", "--isolated", f"--line-length={LINE}", "--stdin-filename", "model.py",
                           "-"], input=source, capture_output=True, text=True, timeout=RUFF_TIMEOUT_S, check=False)
    if done.returncode != 0 or not done.stdout:
        raise subprocess.SubprocessError(f"ruff format exited with {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def _code_lines(source: str) -> Iterator[tuple[str, bool]]:
    """Each line and whether it is code: lines inside a triple-quoted string (a docstring of
    support code) are text."""
    in_string = False
    for line in source.splitlines():
        yield line, not in_string
        in_string ^= (line.count('"""') + line.count("'''")) % 2 == 1


def place_comments(source: str) -> str:
    """Trailing comments of too-long statements moved onto their own line above."""
    lines = [_lift_comment(line.rstrip()) if code else line for line, code in _code_lines(source)]
    return "\n".join(lines) + "\n"


def _lift_comment(line: str) -> str:
    if len(line) <= LINE or '"""' in line or "'''" in line:
        return line
    indent = line[: len(line) - len(line.lstrip())]
    code = line.strip()
    scan = _scan(code)
    if scan is None or scan.comment is None or not code[: scan.comment].strip():
        return line
    return f"{indent}{code[scan.comment :]}\n{indent}{code[: scan.comment].rstrip()}"


def tidy(source: str) -> str:
    """The fallback formatter: long statements split, blank lines as ruff leaves them."""
    text = "\n".join(wrap(line.rstrip()) if code else line.rstrip() for line, code in _code_lines(source))
    text = re.sub(r"\n{3,}(?=\S)", "\n\n\n", text)  # at most two blank lines
    text = re.sub(r"\n{3,}(?=\s)", "\n\n", text)  # one blank line inside classes
    return text.strip("\n") + "\n"


def wrap(line: str) -> str:
    """One rendered line, split the way ``ruff format`` splits it when it is too long.

    Only complete one-line statements are touched: a line inside a docstring, or one of
    several lines of a statement written by hand in a template or in support code, is
    left as it is.  A trailing comment moves above the statement, which ruff leaves alone.
    """
    if len(line) <= LINE or '"""' in line or "'''" in line:
        return line
    indent = line[: len(line) - len(line.lstrip())]
    code = line.strip()
    scan = _scan(code)
    if scan is None:
        return line
    if scan.comment is not None:
        lifted = _lift_comment(line)
        if lifted == line:
            return line
        note, stmt = lifted.split("\n")
        return f"{note}\n{wrap(stmt)}"
    return "\n".join(_split(indent, code))


@dataclass
class _Scan:
    pairs: list[tuple[int, int]]  # top-level bracket pairs (open, close)
    commas: list[int]  # top-level commas
    operators: list[tuple[int, str]]  # top-level binary operators " + " (position, text)
    assign: int | None  # top-level " = " of an assignment
    comment: int | None


_OPERATORS = (" + ", " - ", " * ", " / ", " // ", " % ", " @ ")


def _scan(code: str) -> _Scan | None:
    """The top-level structure of one line of code (strings skipped); None when its brackets
    do not balance, i.e. it is part of a statement written over several lines."""
    out = _Scan([], [], [], None, None)
    stack: list[int] = []
    i, n = 0, len(code)
    while i < n:
        ch = code[i]
        if ch in "\"'":
            j = i + 1
            while j < n and code[j] != ch:
                j += 2 if code[j] == "\\" else 1
            if j >= n:
                return None
            i = j + 1
            continue
        if ch == "#":
            out.comment = i
            break
        if ch in "([{":
            stack.append(i)
        elif ch in ")]}":
            if not stack:
                return None
            start = stack.pop()
            if not stack:
                out.pairs.append((start, i))
        elif not stack:
            if ch == ",":
                out.commas.append(i)
            elif code.startswith(" = ", i) and out.assign is None and not out.pairs:
                out.assign = i
            else:
                op = next((o for o in _OPERATORS if code.startswith(o, i)), None)
                if op is not None:
                    out.operators.append((i, op))
        i += 1
    return None if stack else out


def _split(indent: str, code: str, reserve: int = 0) -> list[str]:
    """Lines for one statement or expression at ``indent`` (black's and ruff's rules, as far as
    generated code needs them); ``reserve`` characters must stay free at the end of the line."""
    if len(indent) + len(code) + reserve <= LINE:
        return [indent + code]
    if code.endswith(",") and not code.endswith(",,"):
        lines = _split(indent, code[:-1], reserve + 1)
        return [*lines[:-1], lines[-1] + ","]
    closing = len(code) - len(code.lstrip(")]}"))  # the closing line of a split: ").unflatten(0, x)"
    scan = _scan(code[closing:])
    if scan is None:
        return [indent + code]
    if code.startswith(("def ", "class ")) and scan.pairs:  # split at the first bracket: the parameters
        return _bracket(indent, code, *scan.pairs[0], reserve)
    lead = code[:closing]
    if scan.assign is not None:
        lead = code[: scan.assign + 3]
    elif code.startswith("return "):
        lead = "return "
    rhs = code[len(lead) :]
    rs = _scan(rhs)
    inner = indent + "    "
    if rs is None:
        return [indent + code]
    if lead == "return " and not closing and len(rs.commas) == 1 and not rs.operators:
        # A two-item return whose first item ends in brackets keeps no parentheses: ruff splits
        # that item's brackets and leaves ", second" on the closing line.
        first = next((p for p in rs.pairs if p[1] == rs.commas[0] - 1 and p[1] > p[0] + 1), None)
        if first is not None and len(indent) + len(lead) + first[0] + 1 <= LINE:
            return _bracket(indent, code, len(lead) + first[0], len(lead) + first[1], reserve)
    if rs.commas or rs.operators:
        # A tuple or an expression with operators goes inside parentheses.
        if lead and not closing:
            return [f"{indent}{lead}(", *_body(inner, rhs, explode=bool(rs.commas)), f"{indent})"]
        return [indent + code]
    if rs.pairs and rs.pairs[-1][1] == len(rhs) - 1:
        # Right-hand split: break inside the last bracket pair whose opening line fits, leaving
        # the trailers after it (".unflatten(0, x)") on the closing line.  When none fits, the
        # right-hand side goes inside parentheses if that makes every line fit; else (a name
        # longer than the line) ruff breaks the brackets from the left: the first one splits
        # and what follows its closing bracket is split the same way.  Empty brackets never split.
        pairs = [pair for pair in rs.pairs if pair[1] > pair[0] + 1]
        fits = [pair for pair in pairs if len(indent) + len(lead) + pair[0] + 1 <= LINE]
        if fits:
            return _bracket(indent, code, len(lead) + fits[-1][0], len(lead) + fits[-1][1], reserve)
        if lead and not closing:
            wrapped = [f"{indent}{lead}(", *_split(inner, rhs), f"{indent})"]
            if all(len(line) <= LINE for line in wrapped):
                return wrapped
        if pairs:
            return _bracket(indent, code, len(lead) + pairs[0][0], len(lead) + pairs[0][1], reserve)
    return [indent + code]


def _bracket(indent: str, code: str, start: int, end: int, reserve: int = 0) -> list[str]:
    # The brackets of a literal (tuple, list, dict) put one item per line once split; those
    # of a call or subscript only when the items do not fit on one line.
    literal = start == 0 or not (code[start - 1].isalnum() or code[start - 1] in "_)]")
    body = code[start + 1 : end]
    return [indent + code[: start + 1], *_body(indent + "    ", body, explode=literal),
            *_split(indent, code[end:], reserve)]


def _body(indent: str, body: str, explode: bool = False) -> list[str]:
    """The inside of a bracket pair: on one line when it fits, else one item per line with a
    trailing comma (or one operand per line, operator first)."""
    scan = _scan(body)
    if scan is None:
        return [indent + body]
    if scan.commas and (explode or body.rstrip().endswith(",")):
        return _items(indent, body, scan)
    if len(indent) + len(body) <= LINE:
        return [indent + body]
    if scan.commas:
        return _items(indent, body, scan)
    if scan.operators:
        cuts = [0, *(i for i, _ in scan.operators), len(body)]
        parts = [body[a:b].strip() for a, b in itertools.pairwise(cuts)]
        return [line for part in parts for line in _split(indent, part)]
    return _split(indent, body)


def _items(indent: str, body: str, scan: _Scan) -> list[str]:
    cuts = [0, *(c + 1 for c in scan.commas), len(body)]
    items = [body[a:b].strip().rstrip(",").strip() for a, b in itertools.pairwise(cuts)]
    return [line for item in items if item for line in _split(indent, item + ",")]
