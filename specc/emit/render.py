"""Render the module template, wrap long lines the way ``ruff format`` would, and gate it."""

from __future__ import annotations

import functools
import re

import jinja2

from ..resources import templates_dir
from .context import ModuleCtx
from .gate import MODULE_IMPORTS, gate

LINE = 88  # ruff's and black's default, so the file is formatted for most projects as is


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # Python source, not HTML: values are quoted by specc.emit.quote
    )


def render_module(ctx: ModuleCtx, template: str = "module.py.j2", allowed: frozenset[str] = MODULE_IMPORTS,
                  **extra: object) -> str:
    source = environment().get_template(template).render(ctx=ctx, **extra)
    source = tidy(_drop_unused_imports(source))
    gate(source, allowed)
    return source


def _drop_unused_imports(source: str) -> str:
    for line, prefix in (("import math\n", "math."), ("from torch.nn import functional as F\n", "F.")):
        if line in source and not re.search(rf"\b{re.escape(prefix)}", source.replace(line, "")):
            source = source.replace(line, "")
    # Dropping `import math` must not leave a double gap inside the import block.
    return source.replace("from __future__ import annotations\n\n\n", "from __future__ import annotations\n\n")


def tidy(source: str) -> str:
    lines = [wrap(line.rstrip()) for line in source.splitlines()]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}(?=\S)", "\n\n\n", text)  # at most two blank lines
    text = re.sub(r"\n{3,}(?=\s)", "\n\n", text)  # one blank line inside classes
    return text.strip("\n") + "\n"


_ASSIGN = re.compile(r"^(?P<indent>\s*)(?P<lhs>[\w.]+ = )(?P<func>[\w.]+)\((?P<args>.*)\)(?P<tail>  # .*)?$")


def wrap(line: str) -> str:
    """Split ``x = f(a, b, ...)`` over several lines when it is too long, as ruff format does:
    the arguments on one indented line when they fit there, else one per line."""
    if len(line) <= LINE:
        return line
    m = _ASSIGN.match(line)
    if not m or m.group("tail"):
        if m and m.group("tail"):
            # Move the shape comment above the statement, then wrap the statement itself.
            indent = m.group("indent")
            stmt = line[: line.index("  # ")]
            return f"{indent}{m.group('tail').strip()}\n{wrap(stmt)}"
        return line
    indent, args = m.group("indent"), _split_args(m.group("args"))
    if args is None:
        return line
    head = f"{indent}{m.group('lhs')}{m.group('func')}("
    inner = indent + "    "
    one = inner + ", ".join(args)
    if len(one) <= LINE and len(head) <= LINE:
        return f"{head}\n{one}\n{indent})"
    body = "\n".join(f"{inner}{a}," for a in args)
    return f"{head}\n{body}\n{indent})"


def _split_args(text: str) -> list[str] | None:
    """Split top-level commas of an argument list (brackets and quotes respected)."""
    out, depth, cur, quote = [], 0, [], ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            cur.append(ch)
            if ch == "\\":
                cur.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            cur.append(ch)
        elif ch in "([{":
            depth += 1
            cur.append(ch)
        elif ch in ")]}":
            depth -= 1
            cur.append(ch)
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    if quote or depth:
        return None
    last = "".join(cur).strip()
    if last:
        out.append(last)
    return out
