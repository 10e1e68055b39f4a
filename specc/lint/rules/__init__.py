"""Every lint rule, one per module; importing a module registers its rule."""

from . import (  # noqa: F401  (registration on import)
    activation_after_logits,
    bias_before_norm,
    bidirectional_last,
    bounded_regression_head,
    channels_last_image,
    dropout_at_end,
    flatten_dense,
    linear_collapse,
    linear_without_flatten,
    rnn_reads_channels,
    rnn_sequence_head,
    sigmoid_before_bce_logits,
    single_logit_cross_entropy,
    softmax_before_ce,
    softmax_over_batch,
    softmax_with_bce,
    two_unit_bce,
)
