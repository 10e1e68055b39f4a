"""How values and names enter generated source: through these filters, never raw."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from ....validate.naming import name_problem


@dataclass(frozen=True)
class Ref:
    """A name in generated code (a constructor parameter), written bare."""

    name: str


@dataclass(frozen=True)
class Code:
    """An expression over constructor parameters, e.g. ``inp * expand``: produced only by
    :func:`specc.load.expr.python_source` from a whitelisted AST, written as is."""

    text: str


class UnsafeValue(ValueError):
    pass


def lit(v: Any) -> str:
    """A Python literal for ``v``: numbers, bools, None, text, and tuples/lists/dicts of them."""
    if isinstance(v, Ref):
        return ident(v.name, parameter=True)
    if isinstance(v, Code):
        return v.text
    if v is None or isinstance(v, bool):
        return repr(v)
    if isinstance(v, int):
        return repr(int(v))
    if isinstance(v, float):
        if math.isnan(v):
            return 'float("nan")'
        if math.isinf(v):
            return 'float("inf")' if v > 0 else 'float("-inf")'
        return repr(float(v))
    if isinstance(v, str):
        # JSON string escapes are valid Python escapes; double quotes as ruff format writes them.
        return json.dumps(str(v), ensure_ascii=True)
    if isinstance(v, tuple):
        inner = ", ".join(lit(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, list):
        return "[" + ", ".join(lit(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{lit(k)}: {lit(x)}" for k, x in v.items()) + "}"
    raise UnsafeValue(f"cannot write a value of type {type(v).__name__} into generated code")


def ident(name: str, *, allow_input: bool = False, parameter: bool = False) -> str:
    """A checked identifier; anything that is not a plain safe name is refused."""
    problem = name_problem(name, allow_input=allow_input, parameter=parameter)
    if problem:
        raise UnsafeValue(problem)
    return name


def comment(text: str) -> str:
    """Free text (a description, a path) as the body of a ``#`` comment: one line, no control characters."""
    return "".join(ch if ch.isprintable() else " " for ch in str(text)).strip()


def docstring(text: str) -> str:
    """Free text (a path) inside a docstring: one line, backslashes and quotes escaped, so a
    Windows path keeps its backslashes and a name with triple quotes cannot end the string."""
    return comment(text).replace("\\", "\\\\").replace('"', '\\"')
