"""A lint rule's module docstring is its only documentation; this reads it.

The docstring opens with ``CODE name: headline`` and has four sections, each a heading on a
line of its own with its text indented below: What it does, Why is this bad, Example (a spec
fragment, kept line for line) and Use instead.  Read into a :class:`~specc.codes.Code`, it is
what ``specc explain``, the SARIF rules and docs/spec.md's lint table print.
"""

from __future__ import annotations

import textwrap

from ..codes import CODES, Code, LintCode

SECTIONS = ("What it does", "Why is this bad", "Example", "Use instead")


def _sections(doc: str) -> dict[str, str]:
    out: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in [*doc.splitlines(), SECTIONS[0]]:  # a sentinel heading flushes the last section
        heading = line.strip().rstrip(":")
        if heading in SECTIONS and not line.startswith(" "):
            if current:
                # prose is joined into one line; the example keeps its lines (and each line its spacing)
                out[current] = (textwrap.dedent("\n".join(lines)).strip() if current == "Example" else
                                " ".join(line.strip() for line in lines if line.strip()))
            current, lines = heading, []
        elif current:
            lines.append(line)
    return out


def parse_rule_doc(entry: LintCode, doc: str, where: str) -> tuple[Code, str]:
    """The documentation of lint code ``entry`` from its rule's docstring, and the headline (what
    it warns about, in a few words); ``where`` names the rule's module in the error a malformed
    docstring raises at import."""
    opening = f"{entry.code} {entry.name}:"
    sections = _sections(doc)
    missing = [s for s in SECTIONS if not sections.get(s)]
    if not doc.startswith(opening) or missing:
        raise ValueError(f"lint rule {where}: its docstring must open with '{opening}' and have the sections "
                         f"{', '.join(SECTIONS)} (missing: {', '.join(missing) or 'none'})")
    code = Code(entry.code, entry.name, sections["What it does"], sections["Why is this bad"], sections["Example"],
                sections["Use instead"])
    return code, doc.splitlines()[0].removeprefix(opening).strip().rstrip(".")


def catalogue() -> list[Code]:
    """Every code in the table's order, documented: a lint code by its rule's docstring."""
    from . import RULES, rules  # noqa: F401  (registration on import)

    return [RULES[c.code].docs if isinstance(c, LintCode) else c for c in CODES.values()]
