"""Which way a spec becomes ONNX: the direct target (no torch) or the torch exporters.

``auto`` takes the direct target when it can write every layer of the model, and the torch
route otherwise (or when the direct model fails verification and torch is there to try), saying
why in the result's notes; ``direct`` and ``torch`` insist, and a route that cannot write a layer
(specc/targets/verdict.py, the limits ``specc check`` reports) is refused before exporting,
naming the layer, the reason and the other route.  A torch exporter pinned in the spec
(``export: {exporter: dynamo}``) or on the command line means the torch route.
"""

from __future__ import annotations

import os
from typing import Any

from ..targets import verdict
from ..targets.onnx.lower import DEFAULT_OPSET
from .direct_export import direct_problem, export_direct
from .errors import ExportFailed, VerificationFailed
from .onnx_files import ExportResult

VIAS = ("auto", "direct", "torch")


def _opset(spec: Any, opset: int | None) -> int:
    return opset or spec.document.export.opset or DEFAULT_OPSET


def _pinned(spec: Any, exporter: str | None) -> str:
    return exporter if exporter not in (None, "auto") else spec.document.export.exporter


def route(spec: Any, via: str = "auto", exporter: str | None = None,
          weights: str | os.PathLike[str] | None = None, opset: int | None = None) -> tuple[str, str | None]:
    """(the route ``export`` takes, why it is not the direct one when ``auto`` chose torch)."""
    if via not in VIAS:
        raise ValueError(f"unknown route {via!r}; choose auto, direct or torch")
    if via != "auto":
        return via, None
    pinned = _pinned(spec, exporter)
    if pinned != "auto":
        return "torch", f"the {pinned} exporter is pinned"
    why = direct_problem(spec)
    if why is None and (layers := verdict.direct_problems(spec.graph, _opset(spec, opset))):
        why = f"the direct target cannot write {layers[0]}"
    return ("torch", why) if why is not None else ("direct", None)


def refusal(spec: Any, which: str, exporter: str | None = None, opset: int | None = None) -> str | None:
    """Why route ``which`` cannot write this spec's model, with the other route when that one can
    (the reason ``export`` gives before exporting), or None."""
    direct = verdict.direct_problems(spec.graph, _opset(spec, opset))
    torch = verdict.torch_problems(spec.graph, _pinned(spec, exporter), _opset(spec, opset))
    if which == "direct" and direct:
        other = "; use --via torch, which writes it" if not torch else ""
        return f"the direct target cannot write {'; '.join(direct)}{other}"
    if which == "torch" and torch:
        other = "; use --via direct, which writes it" if not direct else ""
        return f"the torch route cannot write {'; '.join(torch)}{other}"
    return None


def export(spec: Any, path: str | os.PathLike[str] | None, *, via: str = "auto", compare: str = "auto",
           weights: str | os.PathLike[str] | None = None, opset: int | None = None, exporter: str | None = None,
           verify_model: bool | None = None, seed: int = 0, triton: str | os.PathLike[str] | None = None,
           max_batch_size: int | None = None) -> ExportResult:
    """Export ``spec`` to a verified ONNX file by the route ``via`` picks (see the module's doc)."""
    spec.require_ok()
    which, why = route(spec, via, exporter, weights, opset)
    refused = refusal(spec, which, exporter, opset)
    if refused is not None:
        raise ExportFailed(refused)
    if which == "direct":
        try:
            return export_direct(spec, path, weights=weights, seed=seed, opset=opset, verify_model=verify_model,
                                 compare=compare, triton=triton, max_batch_size=max_batch_size)
        except (ExportFailed, VerificationFailed) as exc:
            if via == "direct" or not verdict.torch_installed():
                raise
            why = f"the direct target's model failed: {str(exc).splitlines()[0]}"
    if not verdict.torch_installed():
        raise ExportFailed(f"the torch route needs torch, which is not installed ({why or '--via torch'}): "
                           "pip install 'specc[onnx]', or export with --via direct")
    from .onnx_export import export_spec

    result = export_spec(spec, path, weights=weights, opset=opset, exporter=exporter, verify_model=verify_model,
                         seed=seed, triton=triton, max_batch_size=max_batch_size)
    if why is not None:
        result.notes.insert(0, f"took the torch route: {why}")
    return result
