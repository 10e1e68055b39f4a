"""``${...}`` substitution: variables and simple arithmetic, evaluated without ``eval``.

The expression is parsed with :mod:`ast` and walked by hand; only numbers, text, variable
names, ``+ - * / // % **``, unary signs, parentheses, ``min``/``max``/``abs``/``round``/
``int``/``ceil``/``floor``, comparisons, ``and``/``or``/``not`` and ``a if cond else b``
are accepted.
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..diagnostics import Location, SpecError

_REF = re.compile(r"\$\{([^{}]*)\}")
MAX_EXPR = 200
MAX_INT = 2**63 - 1  # what a tensor size can hold; Python's unbounded ints would otherwise grow
MAX_EXPONENT = 64  # in ** and round(x, n): 10 ** (10 ** 18) never finishes
# Text spliced from ${} results: vars that each splice the one before twice ('${v}${v}') double
# the text at every step, and 40 of them asked for a terabyte (check ran until killed).
MAX_TEXT = 10_000
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_FUNCS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs, "round": round, "int": int,
                                         "ceil": math.ceil, "floor": math.floor}


# Inside a block, ${input_shape[i]} reads dim i of the block's input.  Its value is known only
# when the graph is built, so expansion leaves such a value for the graph engine (load/expand.py).
INPUT_SHAPE = "input_shape"
_READS_INPUT = re.compile(r"\$\{[^{}]*\b" + INPUT_SHAPE + r"\b")


def reads_input_shape(value: Any) -> bool:
    return isinstance(value, str) and _READS_INPUT.search(value) is not None


class InputShape:
    """The shape of a block's input as ``${input_shape[i]}`` reads it: fixed dims as numbers; a
    symbolic one (B, T) is an X007 error, a dim it does not have an X006 error."""

    def __init__(self, dims: tuple[Any, ...], shown: str):
        self.dims = dims
        self.shown = shown

    def dim(self, i: Any, expr: str, loc: Location | None) -> int:
        rank = len(self.dims)
        if isinstance(i, bool) or not isinstance(i, int) or not -rank <= i < rank:
            raise SpecError("X006", f"'${{{expr}}}' reads dim {i!r} of the block's input {self.shown}, which has "
                            f"{rank} dims", f"index 0 to {rank - 1}, or -1 for the last", loc=loc)
        d = self.dims[i]
        if not isinstance(d, int):
            fixed = [f"input_shape[{j}] = {x}" for j, x in enumerate(self.dims) if isinstance(x, int)]
            raise SpecError("X007", f"'${{{expr}}}' reads {d}, dim {i} of the block's input {self.shown}: a size "
                            "that differs from run to run, where a number is needed",
                            f"read a fixed dim ({', '.join(fixed)})" if fixed else
                            "give that dim a fixed size in inputs:", loc=loc)
        return d


def has_ref(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def substitute(value: str, env: Mapping[str, Any], loc: Location | None) -> Any:
    """Resolve every ``${...}`` in ``value``.

    A value that is exactly one ``${expr}`` takes the expression's type (so
    ``"${hidden * 2}"`` is the int 256); otherwise results are spliced into the text.
    """
    whole = _REF.fullmatch(value.strip())
    if whole:
        return evaluate_expression(whole.group(1), env, loc)
    if "${" in _REF.sub("", value):
        raise SpecError("X002", f"unterminated or nested '${{' in {value!r}",
                        "write ${name} or ${expression}, one pair of braces", loc=loc)
    total = len(value)

    def splice(m: re.Match[str]) -> str:
        nonlocal total
        text = _text(evaluate_expression(m.group(1), env, loc))
        total += len(text) - len(m.group(0))
        if total > MAX_TEXT:  # each piece is at most the limit, so the text built stays near it
            shown = value if len(value) <= 40 else value[:37] + "…"
            raise SpecError("X004", f"'{shown}' makes a text of more than {MAX_TEXT:,} characters once its ${{}} are "
                            "filled in", "a spliced value is a name or a short text: look for vars that splice a "
                            "var into itself more than once, or splice a long one", loc=loc)
        return text

    return _REF.sub(splice, value)


def _text(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def evaluate_expression(expr: str, env: Mapping[str, Any], loc: Location | None) -> Any:
    expr = expr.strip()
    if not expr:
        raise SpecError("X002", "empty ${} expression", "write ${name} or ${expression}", loc=loc)
    if len(expr) > MAX_EXPR:
        raise SpecError("X002", f"expression longer than {MAX_EXPR} characters", "simplify it", loc=loc)
    try:
        tree = _parse(expr)
    except SyntaxError:
        raise SpecError("X002", f"'${{{expr}}}' is not a valid expression",
                        "use variables, numbers and + - * / // % ** ( )", loc=loc) from None
    if not expr.isascii():
        _written_as_read(tree, expr, loc)
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


_SUGGEST_FROM = 200  # variables: past this, a hint neither searches nor lists them


def _undefined_hint(name: str, env: Mapping[str, Any]) -> str:
    """The fix for an undefined variable.  The spelling search and the list of known names cost
    time and text in proportion to the variables defined, once per error: 4,000 vars and as many
    misspellings took 130 s and printed hints of 40,000 characters, so a file with that many
    gets the plain advice."""
    if name == "index" and "index" not in env:
        hint = "index is the copy's number inside an item with repeat: N; use it there"
    elif name == INPUT_SHAPE:
        return (f"{INPUT_SHAPE} is the shape of a block's input, read in its layers' parameters "
                f"(${{{INPUT_SHAPE}[1]}}); outside a block, write the size")
    else:
        hint = "define it under vars:, above its first use"
    if len(env) > _SUGGEST_FROM:
        return hint
    # names only: not the markers expansion keeps beside the variables, nor a key YAML read as a number
    names = [k for k in env if isinstance(k, str) and k.isidentifier()]
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return hint if name == "index" else f"define it under vars: (known: {', '.join(sorted(names)) or 'none'})"


def _written_as_read(tree: ast.Expression, expr: str, loc: Location | None) -> None:
    """Python reads names in NFKC form, so '${ﬁlter}' silently meant the variable 'filter' and
    a full-width 'ｎ' meant 'n': a name must be read as written, in ASCII like every name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            written = ast.get_source_segment(expr, node) or node.id
            if written != node.id or not written.isascii():
                odd = next(ch for ch in written if not ch.isascii())
                raise SpecError("X002", f"'${{{expr}}}' names '{written}', which holds the non-ASCII character "
                                f"'{odd}' (U+{ord(odd):04X}); names in ${{}} are ASCII, as every name is",
                                f"type the name in ASCII: {node.id if node.id.isascii() else 'a plain name'}",
                                loc=loc)


@functools.lru_cache(maxsize=4096)
def _parse(expr: str) -> ast.Expression:
    """Parsed once per distinct text: a block used a thousand times, or a file of 50,000
    expressions, repeats the same few (the tree is only read)."""
    return ast.parse(expr, mode="eval")


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
        elif isinstance(n, ast.Constant) and not isinstance(n.value, (int, float, str)):
            reasons.append(f"contains the literal {n.value!r}")
        elif isinstance(n, (ast.Lambda, ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.SetComp, ast.NamedExpr)):
            reasons.append("defines a function, comprehension or assignment")
        elif isinstance(n, (ast.List, ast.Tuple, ast.Dict, ast.Set)):
            reasons.append("builds a collection")
        elif isinstance(n, (ast.BinOp, ast.UnaryOp)) and type(n.op) not in _BINOPS \
                and not isinstance(n.op, (ast.USub, ast.UAdd)):
            reasons.append(f"uses the operator {type(n.op).__name__}")
    return reasons[0] if reasons else "is not plain arithmetic"


_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}


def _eval(node: ast.AST, env: Mapping[str, Any], expr: str, loc: Location | None) -> Any:
    # Numbers, text and true/false literals; comparisons, and/or/not and `a if cond else b`
    # exist for `when:` conditions and for choosing a value (MobileNet's residual, a width).
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
        return _bounded(node.value, expr, loc)  # ${100000000000000000000000}, ${1e400}
    if node.__class__ is ast.Name and node.id in env:  # type: ignore[attr-defined]  (the common case first)
        return env[node.id]  # type: ignore[attr-defined]
    if isinstance(node, ast.Name) and node.id in ("true", "false", "True", "False") and node.id not in env:
        return node.id in ("true", "True")
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _eval(node.left, env, expr, loc)
        for op, comparator in zip(node.ops, node.comparators):
            right = _eval(comparator, env, expr, loc)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, env, expr, loc) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _eval(node.operand, env, expr, loc)
    if isinstance(node, ast.IfExp):
        branch = node.body if _eval(node.test, env, expr, loc) else node.orelse
        return _eval(branch, env, expr, loc)
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        raise SpecError("X001", f"undefined variable '{node.id}' in '${{{expr}}}'", _undefined_hint(node.id, env),
                        loc=loc)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left = _number(_eval(node.left, env, expr, loc), expr, loc)
        right = _number(_eval(node.right, env, expr, loc), expr, loc)
        if isinstance(node.op, ast.Pow) and (abs(right) > MAX_EXPONENT or abs(left) > 1e6):
            raise SpecError("X004", f"'${{{expr}}}' raises to a power too large to be a layer size",
                            f"keep exponents within ±{MAX_EXPONENT} and bases up to 1,000,000", loc=loc)
        return _bounded(_BINOPS[type(node.op)](left, right), expr, loc)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _number(_eval(node.operand, env, expr, loc), expr, loc)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == INPUT_SHAPE:
        shape = env.get(INPUT_SHAPE)
        if isinstance(shape, InputShape):
            return shape.dim(_eval(node.slice, env, expr, loc), expr, loc)
        if shape is None:
            raise SpecError("X006", f"'${{{expr}}}' reads {INPUT_SHAPE}, the shape of a block's input, outside a "
                            "block", "write the size here, or move the layer into a block whose input it reads",
                            loc=loc)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS
            and not node.keywords and node.args):
        args = [_number(_eval(a, env, expr, loc), expr, loc) for a in node.args]
        if node.func.id == "round" and len(args) > 1 and abs(args[1]) > MAX_EXPONENT:
            raise SpecError("X004", f"'${{{expr}}}' rounds to {args[1]} digits",
                            f"round to at most {MAX_EXPONENT} digits, e.g. round(x, 2)", loc=loc)
        return _bounded(_FUNCS[node.func.id](*args), expr, loc)
    raise SpecError("X002", f"'${{{expr}}}' {_reason(node)}, but an expression may only do arithmetic and "
                    "comparisons on numbers and variables", "use numbers, variable names, + - * / // % **, "
                    "parentheses, min/max/abs/round/int/ceil/floor, == != < <= > >=, and/or/not and "
                    "a if cond else b, e.g. ${hidden * 2}", loc=loc)


def _bounded(v: Any, expr: str, loc: Location | None) -> Any:
    """An arithmetic result, refused when no size or rate could be it: an int beyond 64 bits,
    or a float that overflowed to infinity or became NaN."""
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_INT:
        raise SpecError("X004", f"'${{{expr}}}' is too large ({_digits(v)}; the limit is {MAX_INT:,}, 64 bits)",
                        "check the arithmetic", loc=loc)
    if isinstance(v, float) and not math.isfinite(v):
        raise SpecError("X004", f"'${{{expr}}}' is {v}, not a finite number", "check the arithmetic", loc=loc)
    return v


def _digits(v: int) -> str:
    return f"{v:,}" if v.bit_length() < 200 else f"a number of about {int(v.bit_length() * 0.30103):,} digits"


def _number(v: Any, expr: str, loc: Location | None) -> int | float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SpecError("X004", f"'${{{expr}}}' does arithmetic on a non-number ({v!r})",
                        "only numeric variables can be combined", loc=loc)
    return v


_PY_FUNCS = {"ceil": "math.ceil", "floor": "math.floor"}


def python_source(expr: str, names: set[str]) -> tuple[str, list[str]] | None:
    """The Python source of a spec expression whose variables are all in ``names``, and the
    names it uses (in order), or None when it uses anything else.

    Used by the code generator to write ``nn.Conv2d(inp, inp * expand, 1)`` in a block class
    instead of a number. Only the whitelisted node kinds pass, so the source is as safe as
    the evaluation; the generated file is AST-gated as well.
    """
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return None
    used: list[str] = []
    allowed_ops = (*_BINOPS, ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or, *_COMPARE)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id in names:
                used.append(node.id)
            elif node.id not in _FUNCS and node.id not in ("true", "false", "True", "False"):
                return None
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS or node.keywords:
                return None
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float, str)) or isinstance(node.value, bool):
                return None
        elif not isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp,
                                   ast.Load, *allowed_ops)):
            return None

    class _Py(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id in ("true", "false") and node.id not in names:
                return ast.Constant(node.id == "true")
            if node.id in _PY_FUNCS and node.id not in names:
                module, attr = _PY_FUNCS[node.id].split(".")
                return ast.Attribute(ast.Name(module, ast.Load()), attr, ast.Load())
            return node

    return ast.unparse(_Py().visit(tree)), list(dict.fromkeys(used))
