"""Loss arguments that must agree with the model: per-class lists against the class dim.

These are errors, not lint warnings: PyTorch refuses a ``weight`` of the wrong length at the
first training step, long after ``check`` said ok.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..diagnostics import Diagnostic
from ..load.yaml_loader import PosDict
from . import context

if TYPE_CHECKING:
    from ..pipeline import Spec

# loss -> (argument, which dim of the model's output it runs along, what that dim is)
PER_CLASS = {
    "CrossEntropyLoss": (("weight", 1, "classes"),),
    "NLLLoss": (("weight", 1, "classes"),),
    "BCELoss": (("weight", -1, "outputs"),),
    "BCEWithLogitsLoss": (("weight", -1, "outputs"), ("pos_weight", -1, "outputs")),
}


def loss_arguments(spec: Spec, raw_loss: object) -> list[Diagnostic]:
    """A located error for each per-class loss list whose length does not fit the output."""
    ctx = context(spec)
    last = ctx.view.main_output if ctx else None
    if ctx is None or last is None or last.out is None or ctx.loss not in PER_CLASS:
        return []
    out = last.out
    loss = spec.document.loss if spec.document is not None else None
    diags = []
    for arg, dim, what in PER_CLASS[ctx.loss]:
        values = getattr(loss, arg, None)
        if not isinstance(values, list) or out.rank < (2 if dim == 1 else 1):
            continue
        size = out.shape[dim]
        # BCE weights broadcast: one value for all is fine too
        fits = len(values) == size or (dim == -1 and len(values) == 1)
        if fits or not isinstance(size, int):
            continue
        loc = raw_loss.value_loc(arg) if isinstance(raw_loss, PosDict) and arg in raw_loss else None
        axis = "its class dim (dim 1)" if dim == 1 else "its last dim"
        one = "class" if what == "classes" else what.removesuffix("s")
        diags.append(Diagnostic(
            "S001", f"loss {arg} has {len(values)} values but the model's output '{last.node.path}' {out} has "
                    f"{size} {what} along {axis}",
            loc, f"give {arg} exactly {size} values, one per {one}", "error"))
    return diags
