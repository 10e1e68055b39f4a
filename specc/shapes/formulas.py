"""The output-size formulas of PyTorch's conv and pool layers, on symbolic dims.

Written once here and used by every conv, transposed conv and pool layer, the way
ONNX's ``convPoolShapeInference`` serves every conv and pool operator.
"""

from __future__ import annotations

import math

from .dims import Dim, DimLike, _atom_key, add, ceildiv, floordiv, mul, same_size


def conv_out(size: DimLike, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1,
             ceil_mode: bool = False) -> DimLike:
    """``floor((L + 2p - d(k-1) - 1)/s) + 1`` (``ceil`` with ``ceil_mode``).

    With ``ceil_mode`` PyTorch takes ``ceil(n/s) + 1`` windows (``n = L + 2p - d(k-1) - 1``)
    but drops the last one when it would start inside the right padding, i.e. keeps
    ``min(ceil(n/s), floor((L + p - 1)/s)) + 1``.  Both are ``floor((L + c)/s)`` for a
    constant ``c``, so the min is one floor with the smaller constant — exact for symbolic
    ``L`` too.  (PyTorch only drops one window; that equals the min whenever
    ``p <= d(k-1)``, which its ``padding <= kernel_size/2`` rule guarantees for pools.)
    """
    span = 2 * padding - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return add(floordiv(add(size, span), stride), 1)
    if padding <= dilation * (kernel - 1):
        return add(floordiv(add(size, min(span + stride - 1, padding - 1)), stride), 1)
    out = add(ceildiv(add(size, span), stride), 1)
    if isinstance(out, int) and isinstance(size, int) and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def min_conv_input(kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                   ceil_mode: bool = False) -> int:
    """Smallest input size for which :func:`conv_out` is at least 1 (for hints).

    A binary search over the monotone :func:`conv_out`: a kernel_size or dilation of
    twenty-odd digits once made a one-by-one search run for minutes.
    """
    lo, hi = 1, max(1, dilation * (kernel - 1) + 1)  # at d(k-1)+1 one full window fits
    while lo < hi:
        mid = (lo + hi) // 2
        if conv_out(mid, kernel, stride, padding, dilation, ceil_mode) >= 1:
            hi = mid
        else:
            lo = mid + 1
    return lo


def divisors(n: int, near: int = 1, window: int = 2_000) -> list[int]:
    """The divisors of a positive ``n``, ascending, for hints: every one when ``n <= 4e8``;
    beyond that the divisors up to 20,000, their cofactors and those within ``window`` of
    ``near``.  Milliseconds whatever ``n`` is: a loop over every number up to a channel
    count of 2**31 never finished."""
    small = [d for d in range(1, min(math.isqrt(n), 20_000) + 1) if n % d == 0]
    around = (d for d in range(max(1, near - window), min(n, near + window) + 1) if n % d == 0)
    return sorted({*small, *(n // d for d in small), *around})


def conv_transpose_out(size: DimLike, kernel: int, stride: int = 1, padding: int = 0,
                       dilation: int = 1, output_padding: int = 0) -> DimLike:
    """``(L - 1)s - 2p + d(k-1) + output_padding + 1``."""
    return add(mul(add(size, -1), stride), -2 * padding + dilation * (kernel - 1) + output_padding + 1)


def same_padding(kernel: int, dilation: int = 1) -> tuple[int, int]:
    """Left/right padding that keeps the size at stride 1 (PyTorch's ``padding='same'``)."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2



def broadcast(a: tuple, b: tuple) -> tuple | None:
    """NumPy/PyTorch broadcasting of two shapes; None when they do not broadcast."""
    out = []
    for i in range(max(len(a), len(b))):
        x = a[len(a) - 1 - i] if i < len(a) else 1
        y = b[len(b) - 1 - i] if i < len(b) else 1
        if y == 1 or same_size(x, y):
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            return None
    return tuple(reversed(out))


def _poly_div(a: Dim, b: Dim) -> DimLike | None:
    """``a / b`` as polynomials in their atoms (each symbol and floor one variable), when ``b``
    divides ``a`` with a quotient of whole coefficients; else None.  Sound for every size: a
    polynomial identity ``a = q·b`` holds whatever values the atoms take."""
    order = sorted({atom for d in (a, b) for mono, _ in d.terms for atom in mono}, key=_atom_key)

    def key(mono: tuple) -> tuple[int, tuple[int, ...]]:  # graded lex: a monomial order
        return len(mono), tuple(mono.count(atom) for atom in order)

    def lead(terms: dict) -> tuple:
        return max(terms, key=key)

    rest = dict(a.terms)
    den = dict(b.terms)
    top = lead(den)
    out: dict = {}
    for _ in range(64 * (len(a.terms) + 1)):  # each step removes rest's leading term
        if not rest:
            return Dim.make(out)
        m = lead(rest)
        left = list(m)
        for atom in top:
            if atom not in left:
                return None
            left.remove(atom)
        if rest[m] % den[top]:
            return None
        t, c = tuple(left), rest[m] // den[top]
        out[t] = out.get(t, 0) + c
        for dm, dc in den.items():
            pm = tuple(sorted(t + dm, key=_atom_key))
            rest[pm] = rest.get(pm, 0) - c * dc
            if rest[pm] == 0:
                del rest[pm]
    return None


def exact_div(a: DimLike, b: DimLike) -> DimLike | None:
    """``a / b`` when it is provably a whole number, else None (reshape's ``-1`` entry).

    Symbolic divisors of one term (``8*B``): every term of ``a`` has to contain its symbols, so
    ``(B*T*512) / (8*B)`` is ``64*T`` while ``T / 4`` stays unknown.  A divisor of several terms
    (``floor((H + 1)/2) - 1``, a conv's output) divides when it is a factor of ``a`` as a polynomial
    in the symbols and floors, with whole coefficients.
    """
    if isinstance(b, int):
        if b <= 0:
            return None
        if isinstance(a, int):
            return a // b if a % b == 0 else None
        q = floordiv(a, b)
        return q if mul(q, b) == a else None
    if a == b:
        return 1
    if isinstance(a, int):
        return None
    if len(b.terms) != 1:
        return _poly_div(a, b)
    (den_mono, den_coeff), = b.terms
    out: dict = {}
    for mono, coeff in a.terms:
        rest = list(mono)
        for atom in den_mono:
            if atom not in rest:
                return None
            rest.remove(atom)
        if coeff % den_coeff:
            return None
        out[tuple(rest)] = out.get(tuple(rest), 0) + coeff // den_coeff
    return Dim.make(out)
