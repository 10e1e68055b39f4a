"""Lint: rules over the shaped graph for mistakes that are not shape errors.

One rule per module in ``rules/``: the module sets ``CODE`` (its line in :mod:`specc.codes`)
and registers a ``check(ctx)`` with :func:`rule`.  The module docstring is the rule's only
documentation: What it does / Why is this bad / Example / Use instead, which ``specc explain
CODE``, SARIF and docs/spec.md read through :mod:`specc.lint.docs`.  A rule receives a
:class:`Context` (the graph with blocks and repeats seen through, the loss at hand) and
yields warnings.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..codes import CODES, LintCode
from ..diagnostics import Diagnostic, Location
from ..graph import lora
from .docs import parse_rule_doc
from .view import Leaf, View, loss_type, view

if TYPE_CHECKING:
    from ..codes import Code
    from ..graph.ir import Graph
    from ..shapes.tensor import TensorType
    from ..spec import Spec


@dataclass(frozen=True)
class Context:
    """What a rule reads: the shaped graph, the same graph as its leaf layers (blocks and
    repeats seen through), and the loss that trains the model."""

    graph: Graph
    view: View
    loss: str | None  # the loss type, e.g. "CrossEntropyLoss" (a per-output loss: None); None when there is none
    loss_section: Any  # the validated loss: section (one loss, a loss per output name), or None
    lora: Any = None  # the lora: adapters' plan (specc.graph.lora.Plan: targets, layers trained in full), or None
    inputs_at: dict[str, Location] = field(default_factory=dict)  # where each input of the spec is declared

    def warning(self, code: str, step: Leaf, message: str, hint: str, field: str | None = None) -> Diagnostic:
        """A warning about ``step``, located at its ``field`` key when the spec writes one."""
        loc = step.node.field_locs.get(field, step.node.loc) if field else step.node.loc
        return Diagnostic(code, f"{step.who()}: {message}", loc, hint, "warning", step.node.path)

    def reads(self, step: Leaf) -> TensorType | None:
        """The tensor ``step`` reads: the output of the one layer it reads, or the model input it reads
        first; None where it reads several layers."""
        if step.source is not None:
            return step.source.out
        return self.graph.inputs.get(step.inputs[0]) if step.inputs and isinstance(step.inputs[0], str) else None

    def input_warning(self, code: str, name: str, step: Leaf, message: str, hint: str) -> Diagnostic:
        """A warning about input ``name`` as ``step`` reads it, located at the input's declaration
        (at ``step`` where the spec has no such line: a graph built by hand)."""
        return Diagnostic(code, f"input {name!r}: {message}", self.inputs_at.get(name, step.node.loc), hint,
                          "warning", step.node.path)


Check = Callable[[Context], Iterable[Diagnostic]]


class Rule:
    """A registered rule: its code, its check, and its documentation, read from its module's
    docstring the first time it is asked for (``specc explain``, SARIF, docs/spec.md, the tests):
    a check runs every rule and reads no documentation, and parsing the 49 docstrings cost
    ~9 M instructions of each `specc check`.  A docstring without its sections is refused there
    (tests/test_lint.py reads every rule's)."""

    __slots__ = ("_parsed", "check", "code")

    def __init__(self, code: str, check: Check) -> None:
        self.code = code
        self.check = check
        self._parsed: tuple[Code, str] | None = None

    @property
    def docs(self) -> Code:
        """The rule's documentation, from its module docstring."""
        return self._read()[0]

    @property
    def headline(self) -> str:
        """What it warns about, in a few words: the docstring's first line."""
        return self._read()[1]

    def _read(self) -> tuple[Code, str]:
        if self._parsed is None:
            module = sys.modules[self.check.__module__]
            entry = CODES[self.code]
            assert isinstance(entry, LintCode)
            self._parsed = parse_rule_doc(entry, module.__doc__ or "", module.__name__)
        return self._parsed


RULES: dict[str, Rule] = {}


def rule(fn: Check) -> Check:
    """Register ``fn`` as the rule for its module's ``CODE``, documented by the module docstring."""
    module = sys.modules[fn.__module__]
    code = getattr(module, "CODE", None)
    entry = CODES.get(code) if isinstance(code, str) else None
    if not isinstance(entry, LintCode) or code in RULES:
        raise ValueError(f"lint rule {fn.__module__}: CODE {code!r} is not a lint code of specc.codes or is "
                         "registered twice")
    RULES[entry.code] = Rule(entry.code, fn)
    return fn


def context(spec: Spec) -> Context | None:
    """What the rules of ``spec`` read; None when there is no graph to lint."""
    if spec.graph is None:
        return None
    section = spec.document.loss if spec.document is not None else None
    adapters = lora.plan(spec)[0] if spec.document is not None and spec.document.lora is not None else None
    inputs_at = {name: at for name in spec.graph.inputs if (at := spec.locations.value("inputs", name)) is not None}
    return Context(spec.graph, view(spec.graph), loss_type(spec), section, adapters, inputs_at)


def per_output(ctx: Context) -> list[Context]:
    """``ctx`` as each trained output's loss sees it: with a loss per output (``loss: {cls: …,
    box: …}``) a rule that reads "the model's output and its loss" must judge every output
    against its own loss, not skip the model for want of one loss type. Each derived context
    puts that output first (``view.main_output``) and carries its loss; an output trained with
    weight 0 learns nothing, so no loss rule applies to it."""
    section = ctx.loss_section
    if not isinstance(section, dict):
        return [ctx]
    found = [ctx]
    for name, one in section.items():
        if getattr(one, "weight", 1) == 0:
            continue
        first = [o for o in ctx.view.outputs if o[0] == name]
        rest = [o for o in ctx.view.outputs if o[0] != name]
        if first:
            found.append(Context(ctx.graph, View(ctx.view.leaves, first + rest), getattr(one, "type", None), one,
                                 ctx.lora, ctx.inputs_at))
    return found


def run_rules(spec: Spec, ignore: Iterable[str] = ()) -> list[Diagnostic]:
    from . import rules  # noqa: F401  (registration on import)

    ctx = context(spec)  # one view of the graph for all rules, not one per rule
    if ctx is None:
        return []
    skip = set(ignore)
    out: list[Diagnostic] = []
    seen: set[tuple[Any, ...]] = set()
    for code, r in sorted(RULES.items()):
        if code in skip:
            continue
        for each in per_output(ctx):  # a rule that reads no loss says the same thing each time: once
            for d in r.check(each):
                key = (d.code, d.loc, d.message, d.hint)
                if key not in seen:
                    seen.add(key)
                    out.append(d)
    return out
