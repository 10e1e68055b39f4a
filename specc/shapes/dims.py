"""Symbolic dimensions.

A dimension is either a plain ``int`` or a :class:`Dim`: an integer polynomial over
symbols (``B``, ``T``…) and ``floor(expr / k)`` atoms.  That is exactly the algebra that
conv, pool, flatten and reshape produce, so it needs no computer-algebra system (and
``specc check`` stays free of heavy imports).

Expressions are kept in a canonical form so that two paths computing the same size
(a residual shortcut and its main branch) compare equal structurally.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

DimLike = Union[int, "Dim"]

# A monomial is a sorted tuple of atoms; the empty tuple is the constant term.
Monomial = tuple["Atom", ...]


@dataclass(frozen=True, order=True)
class Sym:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Floor:
    """``floor(num / den)`` with a non-constant numerator and ``den >= 2``."""

    num: Dim
    den: int

    def __str__(self) -> str:
        return f"floor(({self.num})/{self.den})" if len(self.num.terms) > 1 else f"floor({self.num}/{self.den})"


Atom = Union[Sym, Floor]


def _atom_key(a: Atom) -> tuple[int, str]:
    return (0, a.name) if isinstance(a, Sym) else (1, str(a))


def _mono_key(m: Monomial) -> tuple:
    return (-len(m), [_atom_key(a) for a in m])


class Dim:
    """A symbolic integer expression. Build one with :func:`sym`; combine with + - * //."""

    __slots__ = ("_hash", "terms")

    def __init__(self, terms: Mapping[Monomial, int]):
        clean = {m: c for m, c in terms.items() if c != 0}
        self.terms: tuple[tuple[Monomial, int], ...] = tuple(
            sorted(clean.items(), key=lambda kv: _mono_key(kv[0]))
        )
        self._hash = hash(self.terms)

    # -- construction -------------------------------------------------------------------
    @staticmethod
    def make(terms: Mapping[Monomial, int]) -> DimLike:
        """Collapse to a plain int when no symbol is left."""
        clean = {m: c for m, c in terms.items() if c != 0}
        if not clean:
            return 0
        if set(clean) == {()}:
            return clean[()]
        return Dim(clean)

    # -- queries --------------------------------------------------------------------------
    @property
    def constant(self) -> int:
        return dict(self.terms).get((), 0)

    def symbols(self) -> set[str]:
        out: set[str] = set()
        for mono, _ in self.terms:
            for a in mono:
                out |= {a.name} if isinstance(a, Sym) else a.num.symbols()
        return out

    def evaluate(self, env: Mapping[str, int]) -> int:
        total = 0
        for mono, coeff in self.terms:
            value = coeff
            for a in mono:
                value *= env[a.name] if isinstance(a, Sym) else evaluate(a.num, env) // a.den
            total += value
        return total

    # -- arithmetic ---------------------------------------------------------------------------
    def __add__(self, other: DimLike) -> DimLike:
        return add(self, other)

    __radd__ = __add__

    def __sub__(self, other: DimLike) -> DimLike:
        return add(self, mul(other, -1))

    def __rsub__(self, other: DimLike) -> DimLike:
        return add(other, mul(self, -1))

    def __mul__(self, other: DimLike) -> DimLike:
        return mul(self, other)

    __rmul__ = __mul__

    def __neg__(self) -> DimLike:
        return mul(self, -1)

    def __floordiv__(self, other: int) -> DimLike:
        return floordiv(self, other)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dim) and self.terms == other.terms

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Dim({self})"

    def __str__(self) -> str:
        parts: list[str] = []
        for mono, coeff in self.terms:
            body = "*".join(str(a) for a in mono)
            mag = abs(coeff)
            if not mono:
                text = str(mag)
            elif mag == 1:
                text = body
            else:
                text = f"{mag}*{body}"
            if not parts:
                parts.append(text if coeff > 0 else f"-{text}")
            else:
                parts.append(("+ " if coeff > 0 else "- ") + text)
        return " ".join(parts)


def sym(name: str) -> Dim:
    return Dim({(Sym(name),): 1})


def _terms(x: DimLike) -> dict[Monomial, int]:
    if isinstance(x, Dim):
        return dict(x.terms)
    return {(): int(x)} if x else {}


def add(a: DimLike, b: DimLike) -> DimLike:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    out = _terms(a)
    for m, c in _terms(b).items():
        out[m] = out.get(m, 0) + c
    return Dim.make(out)


def mul(a: DimLike, b: DimLike) -> DimLike:
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    out: dict[Monomial, int] = {}
    for ma, ca in _terms(a).items():
        for mb, cb in _terms(b).items():
            m = tuple(sorted(ma + mb, key=_atom_key))
            out[m] = out.get(m, 0) + ca * cb
    return Dim.make(out)


def floordiv(a: DimLike, k: int) -> DimLike:
    """``floor(a / k)`` for a positive integer ``k``, canonicalised.

    Multiples of ``k`` in the symbolic terms move outside the floor, and
    ``floor((floor(x/m) + c)/k)`` folds to ``floor((x + c*m)/(m*k))`` — both exact for
    integer-valued ``x`` — so chains of strided layers keep one short formula.
    """
    if k <= 0:
        raise ValueError("floordiv by a non-positive integer")
    if isinstance(a, int):
        return a // k
    if k == 1:
        return a
    outside: dict[Monomial, int] = {}
    inside: dict[Monomial, int] = {}
    for m, c in a.terms:
        if m == ():
            inside[m] = c
            continue
        q, r = divmod(c, k)
        if q:
            outside[m] = q
        if r:
            inside[m] = r
    symbolic_inside = {m: c for m, c in inside.items() if m != ()}
    if not symbolic_inside:
        return add(Dim.make(outside), inside.get((), 0) // k)
    if len(symbolic_inside) == 1:
        (m, c), = symbolic_inside.items()
        if c == 1 and len(m) == 1 and isinstance(m[0], Floor):
            inner = m[0]
            folded = floordiv(add(inner.num, inside.get((), 0) * inner.den), inner.den * k)
            return add(Dim.make(outside), folded)
    num = Dim.make(inside)
    assert isinstance(num, Dim)
    return add(Dim.make(outside), Dim({(Floor(num, k),): 1}))


def ceildiv(a: DimLike, k: int) -> DimLike:
    return floordiv(add(a, k - 1), k)


def evaluate(d: DimLike, env: Mapping[str, int]) -> int:
    return d if isinstance(d, int) else d.evaluate(env)




def fmt_shape(shape: tuple[DimLike, ...] | list[DimLike]) -> str:
    """``(B, 64, 24, 24)``; compound expressions are wrapped so commas stay readable."""
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def product(dims: list[DimLike] | tuple[DimLike, ...]) -> DimLike:
    out: DimLike = 1
    for d in dims:
        out = mul(out, d)
    return out
