"""L055 router-without-gradient: a mixture of experts routes to one expert and renormalises its weight.

What it does
    A MixtureOfExperts with ``top_k: 1`` and ``normalize: true`` (the default, Mixtral's): each
    token's one weight is its probability divided by itself.

Why is this bad
    Renormalising over the k chosen experts makes a single weight exactly 1, so the router's
    probabilities never reach the output: the router takes no gradient and keeps the random
    routing it started with, whatever the loss. Switch Transformer, the top-1 design, scales the
    expert's output by its probability instead, which is how the router learns; a Switch model
    ported with Mixtral's renormalisation also computes other outputs than its checkpoint's.

Example
    layers:
      - {type: Unsqueeze, dim: 1}
      - {type: MixtureOfExperts, num_experts: 8, top_k: 1, hidden_features: 64, activation: relu, gated: false}

Use instead
    ``normalize: false``: the expert's output times its probability (Switch's
    ``router_probs``). Routing each token to two or more experts renormalises meaningfully.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import arg

CODE = "L055"


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        if step.node.kind is None or step.node.kind.type_name != "MixtureOfExperts":
            continue
        if arg(step, "top_k") != 1 or not arg(step, "normalize"):
            continue
        yield ctx.warning(
            CODE, step, "top_k: 1 with normalize: true divides each token's one weight by itself: every weight is 1, "
            "so the router's probabilities never reach the output and the router never trains",
            "set normalize: false to scale the expert's output by its probability (Switch's top-1)",
            field="top_k")
