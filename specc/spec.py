"""The checked spec: what `check` found, handed to every later verb.

A leaf: it imports only the types it holds, so stages and the CLI can name ``Spec``
without importing the pipeline that makes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .diagnostics import Diagnostic
from .validate.locations import Locations
from .validate.naming import model_name_of

if TYPE_CHECKING:
    from .graph.ir import Graph
    from .load.yaml_loader import PosDict
    from .validate.document import Document


@dataclass
class Spec:
    """A loaded, checked spec. ``ok`` is False when any error was found."""

    path: str
    text: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    document: Document | None = None
    graph: Graph | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    # Where each key and value of the document is written: how later stages locate what they
    # report on a typed section.
    locations: Locations = field(default_factory=Locations)
    raw: PosDict | None = None  # the positioned YAML, for the editor (lsp/) only

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def name(self) -> str:
        if self.document and self.document.name:
            return self.document.name
        return model_name_of(self.path)

    @property
    def sha256(self) -> str:
        import hashlib  # only compile/export need it; keep it off `check`'s start-up

        return hashlib.sha256(self.text.encode()).hexdigest()

    def param_counts(self) -> tuple[int, int, int]:
        """(parameters, trainable parameters, LoRA adapters' parameters among them) of the checked
        graph, as the summary counts them: what `specc check`'s verdict line prints, without the
        summary's rows, MACs and training memory (which would double a check's own work)."""
        from .graph.lora import param_counts, plan

        if self.graph is None:
            return 0, 0, 0
        total, trainable, _, _ = self.graph.totals()
        return param_counts(total, trainable, plan(self)[0] if self.ok else None)

    def check(self, macs: str = "specc") -> dict[str, Any]:
        """The machine-readable report that `specc check --format json` prints; ``macs`` names
        whose MACs convention its counts follow (specc, torchinfo, fvcore)."""
        from .report.summary import check_report

        return check_report(self, macs)

    def summary(self, macs: str = "specc") -> Any:
        """The summary table; ``macs`` names whose MACs convention it shows (specc, torchinfo, fvcore)."""
        from .report.summary import Summary

        return Summary.of(self, macs)

    def require_ok(self) -> Spec:
        if not self.ok:
            raise SpecInvalid(self)
        return self


class SpecInvalid(Exception):
    """Raised by APIs that need a valid spec (build, export); carries the diagnostics."""

    def __init__(self, spec: Spec):
        from .diagnostics import render_text

        self.spec = spec
        super().__init__("\n".join(render_text(d) for d in spec.errors))
