"""Symbolic dimensions.

A dimension is either a plain ``int`` or a :class:`Dim`: an integer polynomial over
symbols (``B``, ``T``…) and ``floor(expr / k)`` atoms.  That is exactly the algebra that
conv, pool, flatten and reshape produce, so it needs no computer-algebra system (and
``specc check`` stays free of heavy imports).

Expressions are kept in a canonical form so that two paths computing the same size
(a residual shortcut and its main branch) compare equal structurally.
"""

from __future__ import annotations

import math
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

    Multiples of ``k`` move outside the floor, the constant's too (``floor((H - 2)/2) + 1`` is
    ``floor(H/2)``: every coefficient and the constant inside lie in ``[0, k)``, so two layers
    that halve a size alike give the same formula), and ``floor((floor(x/m) + c)/k)`` folds to
    ``floor((x + c*m)/(m*k))`` — all exact for integer-valued ``x`` — so chains of strided
    layers keep one short formula.
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




def _period_degree(d: DimLike) -> tuple[int, int]:
    """(P, n): ``d`` as a function of its symbols' values is a polynomial of degree at most n on
    each class of values modulo P (the floors' denominators, nested ones multiplied)."""
    if isinstance(d, int):
        return 1, 0
    period, degree = 1, 0
    for mono, _ in d.terms:
        n = 0
        for a in mono:
            if isinstance(a, Floor):
                p, k = _period_degree(a.num)
                period, n = math.lcm(period, p * a.den), n + k
            else:
                n += 1
        degree = max(degree, n)
    return period, degree


@dataclass(frozen=True)
class Agreement:
    """Where two sizes over one symbol are equal: wherever the symbol's value modulo ``modulus``
    is one of ``residues`` (``everywhere``: every value), and at the isolated ``points`` where
    two sizes that grow at different rates cross."""

    symbol: str
    modulus: int
    residues: frozenset[int]
    points: frozenset[int] = frozenset()

    @property
    def everywhere(self) -> bool:
        return self.modulus == 1 and self.residues == frozenset({0})

    def holds(self, value: int) -> bool:
        return value % self.modulus in self.residues or value in self.points

    def example(self, start: int, holding: bool, *sizes: DimLike) -> int | None:
        """The first value of the symbol from ``start`` at which the sizes are equal (``holding``)
        or differ, with each of ``sizes`` at least 1 there; None within a few periods."""
        for v in range(start, start + 4 * self.modulus + 64):
            if self.holds(v) == holding and all(evaluate(d, {self.symbol: v}) > 0 for d in sizes):
                return v
        return None

    def text(self) -> str:
        """``H is a multiple of 4``, ``H is even``, ``H % 3 is 1 or 2``."""
        s, m, rs = self.symbol, self.modulus, sorted(self.residues)
        if m == 2:
            return f"{s} is {'even' if rs == [0] else 'odd'}"
        if rs == [0]:
            return f"{s} is a multiple of {m}"
        # a run of residues reads as its ends: a U-Net's 8 levels agree where H % 256 is 0 to 127,
        # which listed one by one is a hint of 128 numbers
        parts = [f"{run[0]} to {run[-1]}" if len(run) > 2 else ", ".join(map(str, run)) for run in runs(rs)]
        listed = ", ".join(parts)
        head, comma, last = listed.rpartition(", ")
        return f"{s} % {m} is {head + ' or ' + last if comma else listed}"


def runs(values: list[int]) -> list[list[int]]:
    """Sorted whole numbers in runs of consecutive ones: [1, 2, 3, 5] -> [[1, 2, 3], [5]]."""
    out: list[list[int]] = []
    for v in values:
        if out and v == out[-1][-1] + 1:
            out[-1].append(v)
        else:
            out.append([v])
    return out


# Floors nest into one period (the product of their divisors): ten poolings by 4 make 4**10. Past
# this, deciding by classes costs more than a check may spend, and no hint needs it.
MAX_PERIOD = 4096


def agreement(x: DimLike, y: DimLike) -> Agreement | None:
    """For two sizes over the same one symbol, linear in it (what convs, pools and resampling
    make), the values of the symbol where they are equal, decided exactly: their difference is
    linear on each class modulo the floors' period, so two points of a class settle it (zero on
    the whole class, or at one point of it at most).  None for sizes over other than one
    symbol, or of higher degree."""
    names = (x.symbols() if isinstance(x, Dim) else set()) | (y.symbols() if isinstance(y, Dim) else set())
    if len(names) != 1:
        return None
    (s,) = names
    diff = add(x, mul(y, -1))
    period, degree = _period_degree(diff)
    if degree > 1 or period > MAX_PERIOD:
        return None
    zero: set[int] = set()
    points: set[int] = set()
    for r in range(period):
        at1, at2 = (evaluate(diff, {s: r + period * t}) for t in (1, 2))
        if at1 == at2 == 0:
            zero.add(r)
        elif at1 != at2 and at1 % (at1 - at2) == 0:  # the line through them crosses 0 at a whole t
            points.add(r + period * (1 + at1 // (at1 - at2)))
    for m in (m for m in range(1, period + 1) if period % m == 0):  # the smallest modulus that tells them apart
        kept = {z % m for z in zero}
        if all((r % m in kept) == (r in zero) for r in range(period)):
            return Agreement(s, m, frozenset(kept), frozenset(points))
    raise AssertionError("unreachable: the period itself always tells its classes apart")


def same_size(x: DimLike, y: DimLike) -> bool:
    """Whether two sizes are equal at every size of their symbols, also where their formulas
    differ (``floor((H + 1)/2)`` and ``H - floor(H/2)``)."""
    if x == y:
        return True
    if isinstance(x, int) and isinstance(y, int):
        return False
    found = agreement(x, y)
    return found is not None and found.everywhere


def fmt_shape(shape: tuple[DimLike, ...] | list[DimLike]) -> str:
    """``(B, 64, 24, 24)``; compound expressions are wrapped so commas stay readable."""
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def product(dims: list[DimLike] | tuple[DimLike, ...]) -> DimLike:
    out: DimLike = 1
    for d in dims:
        out = mul(out, d)
    return out


# -- a size as JSON (in an exported model's metadata), exact both ways --------------------------------

def to_json(d: DimLike) -> object:
    """``d`` as plain JSON: an int, or a list of [coefficient, atoms] terms whose atoms are a
    symbol's name or {"floor": numerator, "by": divisor}."""
    if isinstance(d, int):
        return d
    return [[c, [a.name if isinstance(a, Sym) else {"floor": to_json(a.num), "by": a.den} for a in mono]]
            for mono, c in d.terms]


def from_json(obj: object) -> DimLike:
    """The size :func:`to_json` wrote; ValueError for anything else."""
    if isinstance(obj, bool):
        raise ValueError("a size is a number or a list of terms")
    if isinstance(obj, int):
        return obj
    if not isinstance(obj, list):
        raise ValueError("a size is a number or a list of terms")
    total: DimLike = 0
    for term in obj:
        if not (isinstance(term, list) and len(term) == 2 and isinstance(term[0], int) and isinstance(term[1], list)):
            raise ValueError("a term is [coefficient, atoms]")
        value: DimLike = term[0]
        for atom in term[1]:
            if isinstance(atom, str) and atom.isidentifier():
                value = mul(value, sym(atom))
            elif isinstance(atom, dict) and isinstance(atom.get("by"), int) and atom["by"] >= 2:
                value = mul(value, floordiv(from_json(atom.get("floor")), atom["by"]))
            else:
                raise ValueError(f"not an atom of a size: {atom!r}")
        total = add(total, value)
    return total
