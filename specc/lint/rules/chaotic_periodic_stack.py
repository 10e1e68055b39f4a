"""L034 chaotic-periodic-stack: Sin or Cos layers with a large scale, stacked, amplify rounding.

What it does
    Estimates, for each Sin or Cos that reads (through any layers) the output of another Sin or
    Cos, how much the stack multiplies a small error in its input: about |scale|/√6 per such
    layer at PyTorch's default initialisation (a Linear or Conv with n inputs draws its weights
    from ±1/√n, so scale·(Wx + b) has a spread of about |scale|/√6 times its input's), multiplied
    along the stack. It warns where the product passes 20. A first Sin or Cos (reading no other)
    counts as 1: its input carries no amplified error.

Why is this bad
    Past that gain the network is chaotic: float32's rounding (one part in 10^7) is blown up
    until the last digits of the outputs are noise. SIREN's hidden layers written as
    sin(30·(Wx + b)) over PyTorch's default weights multiply an error by about 12 each; three of
    them give outputs whose float32 and float64 values differ by 0.3% (measured), past the
    tolerance an ONNX export is verified to, so `specc export` verifies such a model only to a
    tolerance widened by the same estimate. SIREN avoids it with its own initialisation, which
    keeps the gain of each hidden layer at 1.

Example
    layers:
      - {type: Linear, out_features: 256}
      - {type: Sin, scale: 30.0}
      - {type: Linear, out_features: 256}
      - {type: Sin, scale: 30.0}
      - {type: Linear, out_features: 256}
      - {type: Sin, scale: 30.0}

Use instead
    Keep the large scale on the first Sin (it sets the frequencies the network can fit) and give
    the later ones scale: 2.449 (√6): over PyTorch's default weights, that is exactly SIREN's
    initialisation of a hidden layer, whose weights are drawn from ±√(6/n)/w0 and multiplied by w0.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf, View, arg, view

if TYPE_CHECKING:
    from ...graph.ir import Graph

CODE = "L034"
PERIODIC = ("Sin", "Cos")
# The gain past which float32's rounding reaches an export's tolerance: float32 and float64 outputs
# differ by about gain/20 of it (measured on SIREN stacks 256 wide: 0.66 at 12 and 17, 3 to 6 at 64).
LIMIT = 20.0


def gains(view: View) -> dict[Leaf, float]:
    """Each Sin or Cos with its estimated error gain (see the module docstring)."""
    out: dict[Leaf, float] = {}
    for step in view.leaves:  # in graph order: what a step reads is done before it
        if step.type not in PERIODIC:
            continue
        upstream = _periodic_above(step)
        scale = abs(float(arg(step, "scale", 1.0)))  # type: ignore[arg-type]
        out[step] = max(out.get(u, 1.0) for u in upstream) * max(1.0, scale / math.sqrt(6)) if upstream else 1.0
    return out


def _periodic_above(step: Leaf) -> list[Leaf]:
    """The nearest Sin or Cos layers that ``step`` reads, through any layers in between."""
    found: list[Leaf] = []
    seen: set[int] = set()
    todo = [i for i in step.inputs if isinstance(i, Leaf)]
    while todo:
        s = todo.pop()
        if id(s) in seen:
            continue
        seen.add(id(s))
        if s.type in PERIODIC:
            found.append(s)
        else:
            todo.extend(i for i in s.inputs if isinstance(i, Leaf))
    return found


def tolerance_factor(graph: Graph) -> float:
    """How much wider than float32's an export of ``graph`` is verified: past LIMIT, the gain over
    5 (four times the error measured at that gain)."""
    gain = max(gains(view(graph)).values(), default=1.0)
    return gain / 5 if gain > LIMIT else 1.0


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    # the largest first: the copies of a repeat share a line, where only the first warning is kept
    for step, gain in sorted(gains(ctx.view).items(), key=lambda item: -item[1]):
        if gain <= LIMIT:
            continue
        yield ctx.warning(
            CODE, step, f"the Sin and Cos layers stacked up to here multiply a rounding error by about {gain:.0f} at "
            "PyTorch's default initialisation (|scale|/√6 per layer), so the last digits of float32 outputs are "
            "noise and an export is verified only to a tolerance widened as much",
            f"give the Sin and Cos layers after the first scale: 2.449 (√6), SIREN's initialisation over "
            f"PyTorch's default weights, or silence this with ignore: [{CODE}] if trained weights will be loaded",
            field="scale")
