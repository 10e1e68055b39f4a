"""``${...}`` substitution: variables and simple arithmetic, evaluated without ``eval``.

The expression is parsed with :mod:`ast` and walked by hand; only numbers, variable
names, ``+ - * / // % **``, unary signs, parentheses and ``min``/``max``/``abs``/
``round``/``int`` are accepted.
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..diagnostics import Location, SpecError

_REF = re.compile(r"\$\{([^{}]*)\}")
MAX_EXPR = 200
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_FUNCS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs, "round": round, "int": int,
                                         "ceil": math.ceil, "floor": math.floor}


def has_ref(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def substitute(value: str, env: Mapping[str, Any], loc: Location | None) -> Any:
    """Resolve every ``${...}`` in ``value``.

    A value that is exactly one ``${expr}`` takes the expression's type (so
    ``"${hidden * 2}"`` is the int 256); otherwise results are spliced into the text.
    """
    whole = _REF.fullmatch(value.strip())
    if whole:
        return evaluate(whole.group(1), env, loc)
    if "${" in _REF.sub("", value):
        raise SpecError("X002", f"unterminated or nested '${{' in {value!r}",
                        "write ${name} or ${expression}, one pair of braces", loc=loc)
    return _REF.sub(lambda m: _text(evaluate(m.group(1), env, loc)), value)


def _text(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def evaluate(expr: str, env: Mapping[str, Any], loc: Location | None) -> Any:
    expr = expr.strip()
    if not expr:
        raise SpecError("X002", "empty ${} expression", "write ${name} or ${expression}", loc=loc)
    if len(expr) > MAX_EXPR:
        raise SpecError("X002", f"expression longer than {MAX_EXPR} characters", "simplify it", loc=loc)
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        raise SpecError("X002", f"'${{{expr}}}' is not a valid expression",
                        "use variables, numbers and + - * / // % ** ( )", loc=loc) from None
    try:
        return _eval(tree.body, env, expr, loc)
    except SpecError:
        raise
    except ZeroDivisionError:
        raise SpecError("X004", f"'${{{expr}}}' divides by zero", _values_hint(tree, env, "make the divisor non-zero"),
                        loc=loc) from None
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise SpecError("X004", f"'${{{expr}}}' cannot be evaluated ({exc})",
                        _values_hint(tree, env, "change the values so the arithmetic is defined"), loc=loc) from None


def _values_hint(tree: ast.AST, env: Mapping[str, Any], fix: str) -> str:
    """'here width = 64, groups = 0: make the divisor non-zero' — the values that made it fail."""
    names = dict.fromkeys(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in env)
    values = ", ".join(f"{n} = {env[n]!r}" for n in names)
    return f"here {values}: {fix}" if values else fix


def _reason(node: ast.AST) -> str:
    """What an expression does that is not arithmetic, in a few words (a call by name first:
    in ``__import__('os').getpid()`` the telling part is ``__import__``)."""
    reasons: list[str] = []
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            if n.func.id not in _FUNCS:
                return f"calls {n.func.id}()"
            if n.keywords or not n.args:
                return f"calls {n.func.id}() with keyword or no arguments"
        elif isinstance(n, ast.Attribute):
            reasons.append(f"reads the attribute .{n.attr}")
        elif isinstance(n, ast.Subscript):
            reasons.append("indexes a value with [...]")
        elif isinstance(n, ast.Constant) and (isinstance(n.value, bool) or not isinstance(n.value, (int, float))):
            reasons.append(f"contains the literal {n.value!r}")
        elif isinstance(n, (ast.Compare, ast.BoolOp, ast.IfExp)):
            reasons.append("compares or tests values")
        elif isinstance(n, (ast.Lambda, ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.SetComp, ast.NamedExpr)):
            reasons.append("defines a function, comprehension or assignment")
        elif isinstance(n, (ast.List, ast.Tuple, ast.Dict, ast.Set)):
            reasons.append("builds a collection")
        elif isinstance(n, (ast.BinOp, ast.UnaryOp)) and type(n.op) not in _BINOPS \
                and not isinstance(n.op, (ast.USub, ast.UAdd)):
            reasons.append(f"uses the operator {type(n.op).__name__}")
    return reasons[0] if reasons else "is not plain arithmetic"


def _eval(node: ast.AST, env: Mapping[str, Any], expr: str, loc: Location | None) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        close = difflib.get_close_matches(node.id, list(env), n=1)
        hint = f"did you mean '{close[0]}'?" if close else (
            f"define it under vars: (known: {', '.join(sorted(env)) or 'none'})")
        raise SpecError("X001", f"undefined variable '{node.id}' in '${{{expr}}}'", hint, loc=loc)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left = _number(_eval(node.left, env, expr, loc), expr, loc)
        right = _number(_eval(node.right, env, expr, loc), expr, loc)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
            raise SpecError("X004", f"'${{{expr}}}' raises to a power too large to be a layer size",
                            "keep exponents small", loc=loc)
        result = _BINOPS[type(node.op)](left, right)
        if isinstance(result, int) and result.bit_length() > 62:
            raise SpecError("X004", f"'${{{expr}}}' is too large", "check the arithmetic", loc=loc)
        return result
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _number(_eval(node.operand, env, expr, loc), expr, loc)
        return -v if isinstance(node.op, ast.USub) else v
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS
            and not node.keywords and node.args):
        args = [_number(_eval(a, env, expr, loc), expr, loc) for a in node.args]
        return _FUNCS[node.func.id](*args)
    raise SpecError("X002", f"'${{{expr}}}' {_reason(node)}, but an expression may only do arithmetic on numbers "
                    "and variables", "use numbers, variable names, + - * / // % **, parentheses and "
                    "min/max/abs/round/int/ceil/floor, e.g. ${hidden * 2}", loc=loc)


def _number(v: Any, expr: str, loc: Location | None) -> int | float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SpecError("X004", f"'${{{expr}}}' does arithmetic on a non-number ({v!r})",
                        "only numeric variables can be combined", loc=loc)
    return v
