"""L024 constant-by-construction: a layer whose output cannot depend on its input.

What it does
    LayerNorm or GroupNorm normalises groups of one value each, or Softmax / LogSoftmax runs
    over a dim of size 1.

Why is this bad
    One value minus its own mean is 0, so such a norm returns its bias (0 without one) for every
    input, and a softmax over one value is always 1 (its log always 0). Everything before the
    layer stops mattering: the model trains to a constant, and nothing fails to say so. It is
    what a LayerNorm after a one-unit head or a softmax on a single logit ends up as.

Example
    layers:
      - {type: Linear, out_features: 1}
      - {type: LayerNorm}

Use instead
    Normalise where there are several values per group (before the layer that narrows to one),
    use Sigmoid for one score, or remove the layer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule

CODE = "L024"


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        out, result = step.out, step.node.result
        if out is None or result is None or out.rank < 1:
            continue
        args = result.args
        if step.type == "LayerNorm":
            written = args.get("normalized_shape")
            dims = [written] if isinstance(written, int) else list(written) if written else [out.shape[-1]]
            if all(isinstance(d, int) for d in dims) and math.prod(dims) == 1:
                yield ctx.warning(CODE, step, f"normalises each sample over 1 value of {out}: that value minus "
                                  "its mean is 0, so the output is the layer's bias whatever the input",
                                  "normalise before the layer that narrows the features to 1, or remove it")
        elif step.type == "GroupNorm" and out.rank >= 2 and isinstance(out.shape[1], int):
            groups = args.get("num_groups")
            spatial = out.shape[2:]
            if isinstance(groups, int) and groups and all(isinstance(d, int) for d in spatial) and \
                    out.shape[1] // groups * math.prod(spatial) == 1:
                yield ctx.warning(CODE, step, f"each of its {groups} groups holds 1 value of {out}: that value "
                                  "minus its mean is 0, so the output is the layer's bias whatever the input",
                                  "normalise before the spatial size shrinks to 1 (or with fewer groups over "
                                  "more channels), or remove it")
        elif step.type in ("Softmax", "LogSoftmax"):
            dim = args.get("dim", -1)
            if isinstance(dim, int) and -out.rank <= dim < out.rank and out.shape[dim] == 1:
                value = "1" if step.type == "Softmax" else "0"
                yield ctx.warning(CODE, step, f"runs over dim {dim} of {out}, which holds 1 value: the output is "
                                  f"{value} whatever the input",
                                  "for one yes/no score use - {type: Sigmoid} instead, or remove it", field="dim")
