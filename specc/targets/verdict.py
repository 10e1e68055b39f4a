"""Whether the route ``specc export`` takes writes each layer: the verdict ``specc check`` gives as U002.

``specc export`` writes a model by one of two routes (specc/backends/routes.py): the direct
target, which needs no torch, or the torch exporters.  Under ``auto`` it takes the direct target
when that writes every layer, else the torch route, which needs torch.  So check refuses a layer
only where the route export would take cannot write it:

- what ONNX Runtime cannot run (bfloat16 compute) is refused whichever route wrote the model; a
  zero pad it folds into the pool after it (computing other maxima than PyTorch) only where the
  route's Pad invites the fold: the torch exporters', and the direct target's before opset 18;
- an exporter pinned in the spec (``export: {exporter: torchscript}``) means the torch route:
  that exporter's limits (specc/targets/torch/export_limits.py), as before the direct target;
- with torch installed, a model is refused where neither route writes it: a layer neither route
  writes, or a layer only the direct target writes in a model with one only torch writes;
- without torch (``pip install 'specc[deploy]'``), export has the direct target alone, so check
  refuses what the direct target cannot write (specc/targets/onnx/limits.py), and nothing else.

The verdict depends on whether torch is installed, because what export can do does: a spec that
checks ok exports there.  Nothing here imports torch, onnx or numpy.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

from ..graph.build import leaves_with_graph
from ..shapes.tensor import TensorType
from .onnx.limits import direct_problem
from .torch.export_limits import Inputs, fused_pad_limits, model_limits, runtime_limits

# (layer type, resolved attributes, inputs as (value name, type), output types, qualified path) -> "reason; fix"
RouteLimits = Callable[[str, dict[str, Any], Inputs, Sequence[TensorType], str], "str | None"]
INSTALL_TORCH = "pip install 'specc[onnx]'"


def torch_installed() -> bool:
    """Whether the torch route can run here (tests simulate an environment without it by patching this)."""
    return importlib.util.find_spec("torch") is not None


def split(why: str) -> tuple[str, str]:
    """("reason", "fix") of a limit's "reason; fix"."""
    reason, _, fix = why.rpartition("; ")
    return (reason, fix) if reason else (why, "")


def route_limits(exporter: str = "auto", opset: int = 18) -> RouteLimits:
    """What the route ``specc export`` takes cannot write, layer by layer in the model's order
    ("reason; fix" or None): see the module's doc.  ``exporter`` and ``opset`` are the spec's
    ``export:`` settings."""
    torch_limits = model_limits(exporter, opset)  # ONNX Runtime's limits included
    if exporter != "auto":
        return lambda type_name, args, inputs, outs, path: torch_limits(type_name, args, inputs, path)
    # the layers that only the direct target, or only the torch route, writes: "Type 'path' (why not the other)"
    only_direct: list[str] = []
    only_torch: list[str] = []
    runtime = runtime_limits(fused_pads=False)
    direct = _direct_limits(opset)

    def problem(type_name: str, args: dict[str, Any], inputs: Inputs, outs: Sequence[TensorType],
                path: str) -> str | None:
        # the torch limits run on every layer: whether a model needs both exporters is their state
        torch_why = torch_limits(type_name, args, inputs, path)
        direct_why = direct(type_name, args, inputs, outs, path)  # stateful too: runs on every layer
        if (why := runtime(type_name, args, inputs, path)) is not None:
            return why  # what ONNX Runtime cannot run, whichever route wrote it
        if direct_why is None and torch_why is None:
            return None
        this = f"{type_name} '{path}'"
        if direct_why is not None and not torch_installed():
            reason, fix = split(direct_why)
            if torch_why is not None:
                return f"{reason} (and the torch route, not installed here, cannot either); {fix}"
            return (f"{reason}, and the torch route, which writes it, is not available here (torch is not "
                    f"installed); {fix}, or install torch ({INSTALL_TORCH})")
        if direct_why is not None and torch_why is not None:
            (d_reason, d_fix), (t_reason, t_fix) = split(direct_why), split(torch_why)
            return f"neither export route writes it: {d_reason}, and {t_reason}; {d_fix}, or {t_fix}"
        # one route alone writes this layer: refused where an earlier layer needs the other one alone
        cannot, only, others, them = ((direct_why, only_torch, only_direct, "the torch route") if direct_why
                                      else (torch_why, only_direct, only_torch, "the direct target"))
        reason, fix = split(cannot or "")
        if others:
            return f"no export route writes this model: {reason}, and {them} cannot write {others[0]}; {fix}"
        only.append(f"{this} ({reason})")
        return None

    return problem


def _direct_limits(opset: int) -> RouteLimits:
    """What the direct target cannot write at ``opset``, layer by layer in the model's order: its
    lowerings' limits, and before opset 18 a pool reading a zero pad, which ONNX Runtime folds into
    the pool (from 18 on the target's Pad names its axes, which stops the fold)."""
    folded = fused_pad_limits()

    def problem(type_name: str, args: dict[str, Any], inputs: Inputs, outs: Sequence[TensorType],
                path: str) -> str | None:
        fold = folded(type_name, args, inputs, path)
        why = direct_problem(type_name, args, [t for _, t in inputs], outs, opset)
        if why is None and fold and opset < 18:
            return ("before opset 18 the direct target writes a Pad without axes, which ONNX Runtime folds into this "
                    "pool (its PadFusion), a max pool then padding with -inf instead of zeros; set export: "
                    "{opset: 18} or later")
        return why

    return problem


def _problems(graph: Any, limit: RouteLimits) -> list[str]:
    """"Type 'path': reason; fix" for each layer of ``graph`` (a checked one) that ``limit`` refuses, in order."""
    found = []
    for g, n in leaves_with_graph(graph):
        if n.kind is None or n.result is None:
            continue
        inputs = [(i, t) for i in n.inputs if (t := g.value(i)) is not None]
        why = limit(n.kind.type_name, n.result.args, inputs, n.result.outs or (n.result.out,), n.path)
        if why is not None:
            found.append(f"{n.type} '{n.path}': {why}")
    return found


def torch_problems(graph: Any, exporter: str = "auto", opset: int = 18) -> list[str]:
    """The layers of a checked graph the torch route cannot write under ``exporter`` (auto: either exporter)
    at ``opset``."""
    limits = model_limits(exporter, opset)
    return _problems(graph, lambda type_name, args, inputs, outs, path: limits(type_name, args, inputs, path))


def direct_problems(graph: Any, opset: int) -> list[str]:
    """The layers of a checked graph the direct target cannot write at ``opset``."""
    return _problems(graph, _direct_limits(opset))
