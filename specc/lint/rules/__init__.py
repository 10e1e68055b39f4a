"""Every lint rule, one per module; importing a module registers its rule."""

from . import (  # noqa: F401  (registration on import)
    activation_after_logits,
    bias_before_norm,
    bidirectional_last,
    dropout_at_end,
    linear_without_flatten,
    sigmoid_before_bce_logits,
    single_logit_cross_entropy,
    softmax_before_ce,
    softmax_over_batch,
)
