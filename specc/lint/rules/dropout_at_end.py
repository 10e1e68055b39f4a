"""L002 dropout-at-end: a dropout layer produces the model's output.

What it does
    Dropout is the model's last layer.

Why is this bad
    Dropout on the output zeroes random logits or predictions while training, so the loss is
    computed on corrupted outputs that no later layer can compensate for; at inference it does
    nothing, so the model is trained for a different function than the one it runs.

Example
    layers:
      - {type: Linear, out_features: 10}
      - {type: Dropout, p: 0.5}

Use instead
    Put the dropout before the last Linear, on the hidden features, or remove it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule

CODE = "L002"


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for name, step in ctx.view.outputs:
        if isinstance(step, str) or step.family != "dropout":
            continue
        before = step.source
        where = f"before '{before.node.path}'" if before is not None else "earlier"
        yield ctx.warning(CODE, step, f"dropout is the last layer, so output '{name}' itself is randomly zeroed "
                          "while training", f"move the dropout {where}, onto the hidden features, or remove it")
