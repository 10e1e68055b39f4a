"""Lint: rules over the shaped graph for mistakes that are not shape errors.

One rule per module in ``rules/``; each has a ``CODE`` from :mod:`specc.codes` and a
``check(spec)`` that yields diagnostics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..diagnostics import Diagnostic

if TYPE_CHECKING:
    from ..pipeline import Spec

Rule = Callable[["Spec"], Iterable[Diagnostic]]
RULES: list[Rule] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def run_rules(spec: Spec) -> list[Diagnostic]:
    from . import rules  # noqa: F401  (registration on import)

    out: list[Diagnostic] = []
    for r in RULES:
        out.extend(r(spec))
    return out
