"""Names one slip away from a layer type: the rule that keeps `specc check` and the JSON Schema of
`specc schema` in agreement about blocks.

A schema cannot see a spec's block names, so it must allow an unknown ``type:`` as a block
instance; then a typo of a built-in type (``Lienar``) would pass the schema. Both sides therefore
use one rule: a name with the letters of a built-in type or alias in another case, or within one
edit (a letter changed, dropped or added, or two neighbours swapped; case aside) of one of at
least ``MIN_LENGTH`` letters, is *near* it. Check refuses a block with such a name (V006), so a
near name in ``type:`` is a typo in every spec that check accepts, and the schema refuses it
(``near_pattern``).
"""

from __future__ import annotations

from collections.abc import Iterable

# Short names (GRU, ELU, Add) sit one letter from many ordinary words; only longer ones are guarded.
MIN_LENGTH = 5


def _one_edit(a: str, b: str) -> bool:
    """Whether a and b are equal or one substitution, deletion, insertion or swap of neighbours apart."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k, (x, y) in enumerate(zip(short, long)) if x != y), len(short))
    return short[i:] == long[i + 1:]


def near_type(name: str, types: Iterable[str]) -> str | None:
    """The built-in type (of ``types``) that ``name`` is one slip from, or None."""
    folded = name.lower()
    ranked = sorted(types, key=lambda t: (t.lower() != folded, t))  # the same letters first
    return next((t for t in ranked if t.lower() == folded or (len(t) >= MIN_LENGTH and _one_edit(folded, t.lower()))),
                None)


def near_pattern(types: Iterable[str]) -> str:
    """A regular expression (JSON Schema dialect: no flags) that matches exactly the names
    ``near_type`` finds near one of ``types``."""
    def lit(c: str) -> str:
        return f"[{c.upper()}{c.lower()}]" if c.isalpha() else c

    alternatives: set[str] = set()
    for t in sorted(types):
        if len(t) < MIN_LENGTH:
            alternatives.add("".join(lit(c) for c in t))
            continue
        w = [lit(c) for c in t]
        n = len(w)
        for i in range(n):
            alternatives.add("".join([*w[:i], ".", *w[i + 1:]]))  # changed (or equal)
            alternatives.add("".join(w[:i] + w[i + 1:]))  # dropped
        for i in range(n + 1):
            alternatives.add("".join([*w[:i], ".", *w[i:]]))  # added
        for i in range(n - 1):
            alternatives.add("".join([*w[:i], w[i + 1], w[i], *w[i + 2:]]))  # swapped
    return "^(" + "|".join(sorted(alternatives)) + ")$"
