"""One diagnostic type, and the renderers that print it (text, json, github, sarif).

Every problem specc finds in a spec is a :class:`Diagnostic`: a stable code from
:mod:`specc.codes`, a severity, one sentence in the user's terms, where it is, and a hint
that states the fix.  Stages raise :class:`SpecError` (or collect diagnostics); the
pipeline gathers them all so that one run reports every problem.
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal
from urllib.parse import quote

from .codes import CODES, WARNING_CODES, Code

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Location:
    file: str
    line: int  # 1-based
    col: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class Diagnostic:
    code: str
    message: str
    loc: Location | None = None
    hint: str | None = None
    severity: Severity = "error"
    layer: str | None = None  # qualified layer name, when a layer is involved

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise KeyError(f"unregistered diagnostic code {self.code}")

    def sort_key(self) -> tuple:
        loc = self.loc or Location("", 0, 0)
        return (loc.file, loc.line, loc.col, self.code)

    def to_json(self) -> dict:
        loc = self.loc
        return {
            "code": self.code,
            "name": CODES[self.code].name,
            "severity": self.severity,
            "message": self.message,
            "file": loc.file if loc else None,
            "line": loc.line if loc else None,
            "col": loc.col if loc else None,
            "hint": self.hint,
            "layer": self.layer,
        }


class SpecError(Exception):
    """Raised by a stage for one problem; the caller turns it into a Diagnostic."""

    def __init__(self, code: str, message: str, hint: str | None = None, *,
                 loc: Location | None = None, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.loc = loc
        self.field = field  # a layer parameter to point at, when one is to blame

    def diagnostic(self, loc: Location | None = None, layer: str | None = None) -> Diagnostic:
        return Diagnostic(self.code, self.message, self.loc or loc, self.hint, "error", layer)


def one_per_mistake(diags: list[Diagnostic]) -> list[Diagnostic]:
    """A mistake inside a block used twice is one mistake: one error per line, code and text (the
    text without the instance's path, which is all that differs), one warning per line and code."""
    seen: set[tuple[Any, ...]] = set()
    out: list[Diagnostic] = []
    for d in diags:
        key: tuple[Any, ...] = (d.code, d.loc)
        if d.severity == "error":
            key += (d.message.replace(d.layer, "") if d.layer else d.message, d.hint)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


# -- renderers -----------------------------------------------------------------------------

def use_colour(stream=None) -> bool:
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


_STYLE = {"error": "\033[1;31m", "warning": "\033[1;33m", "bold": "\033[1m", "dim": "\033[2m",
          "hint": "\033[36m", "reset": "\033[0m"}


def render_text(d: Diagnostic, colour: bool = False, source_lines: list[str] | None = None) -> str:
    def c(style: str, text: str) -> str:
        return f"{_STYLE[style]}{text}{_STYLE['reset']}" if colour else text

    where = f"{d.loc}: " if d.loc else ""
    lines = [f"{c('bold', where)}{c(d.severity, f'{d.severity}[{d.code}]')}: {_printable(d.message)}"]
    if source_lines is not None and d.loc and 0 < d.loc.line <= len(source_lines):
        text, pad = _excerpt(source_lines[d.loc.line - 1].rstrip("\r\n"), d.loc.col)
        gutter = f"{d.loc.line:>4} | "
        lines.append(c("dim", gutter) + text)
        lines.append(" " * len(gutter) + pad + c(d.severity, "^"))
    if d.hint:
        lines.append(f"  {c('hint', 'hint')}: {_printable(d.hint)}")
    return "\n".join(lines)


_EXCERPT = 120  # characters of a source line shown around the column; a line can be 2 MB long
LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # YAML's line breaks, which its marks count


def source_lines(text: str) -> list[str]:
    """A spec's lines as YAML counts them (so a diagnostic's line number finds its line):
    str.splitlines also splits at form feeds and other controls that YAML does not."""
    return LINE_BREAK.split(text)


def _excerpt(line: str, col: int) -> tuple[str, str]:
    """The part of a source line to show and the padding that puts a caret under column
    ``col`` in a terminal: a control character is shown as its visible symbol (a file must
    not drive the terminal), a tab is kept so the padding moves as far, and wide (CJK, emoji)
    and zero-width (combining) characters take the columns they take on screen."""
    at = max(col - 1, 0)
    start = max(0, min(at - _EXCERPT // 2, len(line) - _EXCERPT))
    end = start + _EXCERPT
    shown = line[start:end]
    pad = "".join("\t" if ch == "\t" else " " * _width(ch) for ch in shown[:at - start])
    pad += " " * max(0, at - len(line))  # a column just past the end: a missing value
    shown = "".join(ch if ch == "\t" or ch.isprintable() or ch == " " else _visible(ch) for ch in shown)
    if start > 0:
        shown, pad = "…" + shown, " " + pad
    if end < len(line):
        shown += "…"
    return shown, pad


def _printable(text: str) -> str:
    """A message as the terminal should show it: a name or value quoted from the spec can hold
    an escape sequence, a carriage return or a bidi override (YAML's "\\e[2J" clears the screen),
    so those are written as escapes, as in 'fc\\n'."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def _visible(ch: str) -> str:
    return chr(0x2400 + ord(ch)) if ord(ch) < 0x20 else "\u2421" if ch == "\x7f" else "\ufffd"


def _width(ch: str) -> int:
    if ch != " " and not ch.isprintable():
        return 1  # shown as one visible symbol
    if unicodedata.category(ch) in ("Mn", "Me"):  # combining marks sit on the character before
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def render_github(d: Diagnostic) -> str:
    """GitHub Actions workflow command, so errors annotate the spec in a pull request.

    Escaping follows the runner: ``%``, CR and LF in the message; also ``:`` and ``,`` in
    property values such as the file name.
    """
    kind = "error" if d.severity == "error" else "warning"
    in_file = d.loc is not None and not d.loc.file.startswith("<")  # not "<command line>"
    props = [f"file={_gh_prop(d.loc.file)}", f"line={d.loc.line}", f"col={d.loc.col}"] if in_file and d.loc else []
    props.append(f"title={_gh_prop(f'{d.code} {CODES[d.code].name}')}")
    msg = d.message + (f" (hint: {d.hint})" if d.hint else "")
    return f"::{kind} {','.join(props)}::{_gh_data(msg)}"


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def render_sarif(checked: Iterable[tuple[str, list[Diagnostic]]], version: str, codes: Sequence[Code]) -> dict:
    """One SARIF 2.1.0 log for the specs checked, as code-scanning services (GitHub, GitLab,
    Azure DevOps) read it: every code of ``codes`` is a rule, every diagnostic a result.

    ``codes`` is every code of the table, documented (``specc.lint.docs.catalogue()``: a lint
    rule's docs live with the rule, above this module).
    ``checked`` pairs each spec's path with its diagnostics; a diagnostic with no place in a
    file (a bad ``--set``) is placed at the spec's first line, since services drop results
    without a location.  The hint goes into the message, where every viewer shows it.
    """
    ids = [c.code for c in codes]
    rules = [{
        "id": c.code, "name": c.name,
        "shortDescription": {"text": c.summary},
        "fullDescription": {"text": c.why},
        "help": {"text": f"{c.summary}\n\nWhy: {c.why}\n\nExample:\n{c.example}\n\nFix: {c.fix}",
                 "markdown": f"{c.summary}\n\n**Why.** {c.why}\n\n```yaml\n{c.example}\n```\n\n**Fix.** {c.fix}"},
        "defaultConfiguration": {"level": "warning" if c.code in WARNING_CODES else "error"},
    } for c in codes]
    results = []
    for path, diagnostics in checked:
        for d in diagnostics:
            in_file = d.loc is not None and not d.loc.file.startswith("<")
            file, line, col = (d.loc.file, d.loc.line, d.loc.col) if in_file and d.loc else (path, 1, 1)
            result: dict = {
                "ruleId": d.code, "ruleIndex": ids.index(d.code), "level": d.severity,
                "message": {"text": d.message + (f" (hint: {d.hint})" if d.hint else "")},
                "locations": [{"physicalLocation": {"artifactLocation": _sarif_uri(file),
                                                    "region": {"startLine": line, "startColumn": col}}}],
            }
            props = {k: v for k, v in (("hint", d.hint), ("layer", d.layer)) if v}
            if props:
                result["properties"] = props
            results.append(result)
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "specc", "version": version, "semanticVersion": version, "rules": rules}},
        "columnKind": "unicodeCodePoints",
        "originalUriBaseIds": {"SRCROOT": {"uri": _dir_uri(os.getcwd())}},
        "results": results,
    }]}


def _sarif_uri(path: str) -> dict:
    """A file as SARIF wants it: a relative URI against the checkout root, or a file: URI."""
    posix = path.replace(os.sep, "/")
    if os.path.isabs(path):
        return {"uri": "file://" + quote(posix if posix.startswith("/") else "/" + posix)}
    return {"uri": quote(posix.removeprefix("./")), "uriBaseId": "SRCROOT"}


def _dir_uri(path: str) -> str:
    posix = path.replace(os.sep, "/")
    return "file://" + quote(posix if posix.startswith("/") else "/" + posix).rstrip("/") + "/"


def yaml_flow(value: Any) -> str:
    """``value`` as a spec writes it inline, for a hint: YAML flow text (true, null, [3, 3],
    {type: Conv2d, kernel_size: 3}); floats short (1e-05, 0.5)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_flow(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:g}" if value != 0 else "0.0"
    if isinstance(value, str) and (not _PLAIN.fullmatch(value) or value in _NOT_TEXT):
        import json  # a hint's rare path: not on a plain check's start-up

        return json.dumps(value)  # "${h}", "a: b", "yes": text only when quoted (JSON's quoting is YAML's)
    return str(value)


# text a flow mapping or list reads back as itself, unquoted (a CSV column, a type name, a mode)
_PLAIN = re.compile(r"[A-Za-z_](?:[\w./ -]*[\w./-])?")
_NOT_TEXT = {"true", "false", "yes", "no", "on", "off", "null", "True", "False", "Yes", "No", "On", "Off", "Null",
             "TRUE", "FALSE", "YES", "NO", "ON", "OFF", "NULL", "y", "n", "Y", "N"}


def dumps_json(payload: object, indent: int | None = 2) -> str:
    """JSON for machines: an undefined number (NaN, an infinity) is null, as strict readers (jq,
    JavaScript) reject NaN."""
    import json  # only --format json/sarif print it; not on a plain check's start-up

    return json.dumps(json_safe(payload), indent=indent, default=_json_default)


def json_safe(obj: Any) -> Any:
    """``obj`` with non-finite floats as None, through dicts, lists and tuples."""
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def _json_default(o: object) -> object:
    if hasattr(o, "__dataclass_fields__"):
        return asdict(o)  # type: ignore[arg-type]
    return str(o)
