"""Lint: rules over the shaped graph for mistakes that are not shape errors.

One rule per module in ``rules/``: the module sets ``CODE`` (from :mod:`specc.codes`) and
registers a ``check(spec)`` with :func:`rule`.  Its docstring says What it does / Why is
this bad / Example / Use instead, the same text ``specc explain CODE`` prints.  Rules read
the graph through :func:`context` (blocks and repeats seen through, the loss at hand) and
yield warnings.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..codes import CODES
from ..diagnostics import Diagnostic
from .view import Step, View, loss_type, view

if TYPE_CHECKING:
    from ..pipeline import Spec

Check = Callable[["Spec"], Iterable[Diagnostic]]


@dataclass(frozen=True)
class Rule:
    code: str
    check: Check
    doc: str  # the module docstring


RULES: dict[str, Rule] = {}


def rule(fn: Check) -> Check:
    """Register ``fn`` as the rule for its module's ``CODE``."""
    module = sys.modules[fn.__module__]
    code = getattr(module, "CODE", None)
    if code not in CODES or code in RULES:
        raise ValueError(f"lint rule {fn.__module__}: CODE {code!r} is not in specc.codes or is registered twice")
    RULES[code] = Rule(code, fn, module.__doc__ or "")
    return fn


@dataclass
class Context:
    spec: Spec
    view: View
    loss: str | None  # the loss type, e.g. "CrossEntropyLoss"; None when the spec has none

    def warning(self, code: str, step: Step, message: str, hint: str, field: str | None = None) -> Diagnostic:
        """A warning about ``step``, located at its ``field`` key when the spec writes one."""
        loc = step.node.field_locs.get(field, step.node.loc) if field else step.node.loc
        return Diagnostic(code, f"{step.who()}: {message}", loc, hint, "warning", step.node.path)


_active: Context | None = None  # the context of the run in progress, shared by every rule


def context(spec: Spec) -> Context | None:
    """What a rule reads; None when there is no graph to lint."""
    if spec.graph is None:
        return None
    if _active is not None and _active.spec is spec:
        return _active
    return Context(spec, view(spec.graph), loss_type(spec))


def run_rules(spec: Spec, ignore: Iterable[str] = ()) -> list[Diagnostic]:
    from . import rules  # noqa: F401  (registration on import)

    global _active
    skip = set(ignore)
    out: list[Diagnostic] = []
    _active = context(spec)  # one view of the graph for all rules, not one per rule
    try:
        for code, r in sorted(RULES.items()):
            if code not in skip:
                out.extend(r.check(spec))
    finally:
        _active = None
    return out
