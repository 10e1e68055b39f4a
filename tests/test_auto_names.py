"""Auto-names: a layer without ``name:`` is called after its type in snake_case words."""

from __future__ import annotations

import pytest

import specc.pipeline  # noqa: F401  (reserves the PyTorch target's names)
from specc.graph.names import auto_name, snake_words
from specc.layers import REGISTRY
from specc.validate.naming import name_problem


@pytest.mark.parametrize(("type_name", "words"), [
    ("Conv2d", "conv2d"), ("MaxPool2d", "max_pool2d"), ("AdaptiveAvgPool2d", "adaptive_avg_pool2d"),
    ("PositionalEncoding", "positional_encoding"), ("LeakyReLU", "leaky_relu"), ("ReLU6", "relu6"),
    ("PReLU", "prelu"), ("SiLU", "silu"), ("GELU", "gelu"), ("LSTM", "lstm"), ("ConvLSTM2d", "conv_lstm2d"),
    ("MultiheadAttention", "multihead_attention"), ("TransformerEncoderLayer", "transformer_encoder_layer"),
    ("ConvTranspose2d", "conv_transpose2d"), ("BatchNorm1d", "batch_norm1d"), ("LogSoftmax", "log_softmax"),
    # block types are user-written: the same rule, acronyms kept whole
    ("DownBlock", "down_block"), ("GRUCell", "gru_cell"), ("RMSNorm", "rms_norm"), ("ViTBlock", "vit_block"),
    ("resblock", "resblock"), ("Mixer-Layer", "mixer_layer"),
])
def test_type_names_become_words(type_name: str, words: str) -> None:
    assert snake_words(type_name) == words


def test_every_kind_gets_a_distinct_legal_auto_name() -> None:
    names = {kind: auto_name(kind, 1) for kind in REGISTRY}
    assert len(set(names.values())) == len(names)
    assert {kind: problem for kind, n in names.items() if (problem := name_problem(n)) is not None} == {}
