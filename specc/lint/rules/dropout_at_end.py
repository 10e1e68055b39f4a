"""L002 dropout-at-end: a dropout layer produces the model's output.

What it does
    Dropout is the model's last layer, or comes last but for the output's activation
    (Dropout then Softmax, Sigmoid or LogSoftmax).

Why is this bad
    Dropout on the output zeroes random logits or predictions while training, so the loss is
    computed on corrupted outputs that no later layer can compensate for; at inference it does
    nothing, so the model is trained for a different function than the one it runs.

    Before a final Softmax or Sigmoid it is the same: the logits the loss reads are zeroed at
    random (a zeroed logit is not "no evidence" but a score of 0 next to the others).

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
        if isinstance(step, str):
            continue
        # the output's own activation (a softmax, a sigmoid) between the dropout and the output
        after = []
        while step.family == "activation" and step.source is not None and len(step.source.consumers) == 1:
            after.append(step)
            step = step.source
        if step.family != "dropout":
            continue
        before = step.source
        where = f"before '{before.node.path}'" if before is not None else "earlier"
        if after:
            yield ctx.warning(CODE, step, f"dropout comes last but for {after[-1].who()}, so the logits of output "
                              f"'{name}' are randomly zeroed while training",
                              f"move the dropout {where}, onto the hidden features, or remove it")
            continue
        yield ctx.warning(CODE, step, f"dropout is the last layer, so output '{name}' itself is randomly zeroed "
                          "while training", f"move the dropout {where}, onto the hidden features, or remove it")
