"""PyTorch lowering of the dropouts and stochastic depth."""

from __future__ import annotations

from .base import Lowering, lowering


class _Dropout(Lowering):
    defaults = {"p": 0.5, "inplace": False}
    positional = ("p",)


@lowering
class Dropout(_Dropout):
    torch_class = "nn.Dropout"


@lowering
class Dropout1d(_Dropout):
    torch_class = "nn.Dropout1d"


@lowering
class Dropout2d(_Dropout):
    torch_class = "nn.Dropout2d"


@lowering
class Dropout3d(_Dropout):
    torch_class = "nn.Dropout3d"


@lowering
class AlphaDropout(_Dropout):
    torch_class = "nn.AlphaDropout"


@lowering
class FeatureAlphaDropout(_Dropout):
    torch_class = "nn.FeatureAlphaDropout"


@lowering
class StochasticDepth(Lowering):
    torch_class = "StochasticDepth"
    support = ("stochastic_depth",)
    positional = ("p",)
    defaults = {"mode": "row"}
