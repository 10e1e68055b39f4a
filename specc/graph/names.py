"""The names the graph gives the layers a spec leaves unnamed.

The rules for names a spec writes itself live in :mod:`specc.validate.naming`.
"""

from __future__ import annotations

import re

# A word written with inner capitals, as ReLU, PReLU, SiLU or ViT: one word, not "re_lu".
_CAPITALISED_WORD = re.compile(r"[A-Z]?[A-Z][a-z]{1,2}[A-Z]+(?![a-z])")
# Where CamelCase starts a new word: "MaxPool" -> "Max|Pool", "LSTMCell" -> "LSTM|Cell". A digit
# stays with the word before it ("Conv2d", "ReLU6").
_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_words(type_name: str) -> str:
    """A type name as the snake_case words PyTorch's functional API uses: ``MaxPool2d`` ->
    ``max_pool2d``, ``PositionalEncoding`` -> ``positional_encoding``, ``LeakyReLU`` ->
    ``leaky_relu``, ``ConvLSTM2d`` -> ``conv_lstm2d``."""
    text = _CAPITALISED_WORD.sub(lambda m: m.group(0).upper(), type_name)
    return re.sub(r"[^a-z0-9_]", "_", _WORD_START.sub("_", text).lower())


def auto_name(type_name: str, n: int) -> str:
    """``conv2d_1``, ``max_pool2d_2``, ``positional_encoding_1``: the names PyTorch users give by hand."""
    return f"{snake_words(type_name)}_{n}"
