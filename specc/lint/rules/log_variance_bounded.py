"""L064 log-variance-bounded: a VAE's log-variance passes through an activation that keeps it from going negative.

What it does
    A layer named as a log-variance or log-scale (``logvar``, ``z_log_var``, ``log_sigma``, ``log_std``,
    ``log_scale``) is, or reads right after, a Linear or convolution, an activation whose outputs cannot
    be negative: ReLU, ReLU6, Softplus, Sigmoid, Hardsigmoid or Exp. Ported Keras VAEs write it as
    ``Dense(latent_dim, activation="relu", name="z_log_var")``, and "variance must be positive" adds a
    Softplus to what is already its logarithm.

Why is this bad
    The encoder's log σ² has to range over all reals: a latent it is sure of has σ² well below 1, a
    log-variance well below 0. Held at 0 or above, σ² never falls under 1, the prior's own variance,
    so every sample of the latent is at least as noisy as the prior; the KL term cannot be traded for
    precision, the decoder learns to ignore the latent, and reconstructions come out blurred. Where
    the activation rests at 0 (ReLU) its gradient is 0 too. Nothing fails.

Example
    layers:
      - {type: Linear, out_features: 400, name: h}
      - {type: Linear, from: h, out_features: 20, name: mu}
      - {type: Linear, from: h, out_features: 20}
      - {type: Softplus, name: logvar}
    outputs: [mu, logvar]

Use instead
    Leave the log-variance linear (the Linear named logvar), and take σ = exp(0.5 · logvar) where the
    latent is sampled. A layer that returns the standard deviation itself (named ``sigma`` or
    ``scale``, not a log) is right to be positive, and does not fire.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ...diagnostics import Diagnostic
from .. import Context, rule
from ..view import Leaf

CODE = "L064"
# what each activation leaves of the reals
NON_NEGATIVE = {"ReLU": "[0, ∞)", "ReLU6": "[0, 6]", "Softplus": "(0, ∞)", "Sigmoid": "(0, 1)",
                "Hardsigmoid": "[0, 1]", "Exp": "(0, ∞)"}
# a log-variance or log-scale by its name: logvar, z_log_var, log_var, log_variance, log_sigma, log_std, log_scale
LOG_SCALE = re.compile(r"(?:^|[_.])log_?(?:var|variance|sigma|sigma2|std|scale)(?:$|[_\d])", re.IGNORECASE)
MAKERS = ("linear", "conv")


def _named(step: Leaf) -> str | None:
    name = step.node.name
    return name if step.node.explicit_name and LOG_SCALE.search(name) else None


@rule
def check(ctx: Context) -> Iterator[Diagnostic]:
    for step in ctx.view.leaves:
        src = step.source
        if step.type not in NON_NEGATIVE or src is None or src.family not in MAKERS:
            continue
        name = _named(step) or _named(src)
        if name is None:
            continue
        if step.node.explicit_name and src.node.explicit_name:
            fix = f"remove '{step.node.path}' and read '{src.node.name}' where '{step.node.name}' is read"
        elif step.node.explicit_name:
            fix = f"remove '{step.node.path}' and give its name to the {src.type} before it (name: {step.node.name})"
        else:
            fix = f"remove '{step.node.path}'"
        yield ctx.warning(
            CODE, step, f"'{name}' reads as a log-variance, which must range over all reals (below 0 where the "
            f"latent is sure, σ² < 1), but {step.type} keeps it in {NON_NEGATIVE[step.type]}: σ² never falls "
            "under 1, the prior's, so every latent sample is as noisy as the prior and the decoder learns to "
            "ignore it",
            f"{fix}: a log-variance is left linear, and σ = exp(0.5 · {name}) taken where the latent is sampled")
