"""Dropout and its channel-wise and self-normalising variants, and stochastic depth (DropPath):
identity shapes, no parameters.

MACs are 0: at inference (where MACs matter) every dropout is the identity.
"""

from typing import Literal

from pydantic import AliasChoices, Field

from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, register


class DropoutParams(LayerParams):
    # p = 1 zeroes every value while training and none at inference (Keras refuses it too): the
    # layers before it never learn, and the model trained is not the one that predicts
    p: float = Field(0.5, ge=0.0, lt=1.0, validation_alias=AliasChoices("p", "rate"))
    inplace: bool = False


class _Dropout(LayerKind):
    may_alias = True
    Params = DropoutParams

    def infer(self, p: DropoutParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        return LayerResult(TensorType(x.shape, x.dtype, x.notes), {"p": p.p, "inplace": p.inplace}, 0, 0)


@register
class Dropout(_Dropout):
    type_name, summary = "Dropout", "zero each element with probability p while training"


@register
class Dropout1d(_Dropout):
    type_name, summary = "Dropout1d", "zero whole channels of (N, C, L) with probability p"
    ranks, layout = (3,), "(N, C, L)"


@register
class Dropout2d(_Dropout):
    type_name, summary = "Dropout2d", "zero whole channels of (N, C, H, W) with probability p"
    ranks, layout = (4,), "(N, C, H, W)"


@register
class Dropout3d(_Dropout):
    type_name, summary = "Dropout3d", "zero whole channels of (N, C, D, H, W) with probability p"
    ranks, layout = (5,), "(N, C, D, H, W)"


@register
class AlphaDropout(_Dropout):
    type_name, summary = "AlphaDropout", "dropout that keeps SELU's mean and variance"


@register
class FeatureAlphaDropout(_Dropout):
    type_name, summary = "FeatureAlphaDropout", "AlphaDropout of whole channels"
    ranks, layout = (3, 4, 5), "(N, C, *spatial)"


class StochasticDepthParams(LayerParams):
    p: float = Field(ge=0.0, lt=1.0, validation_alias=AliasChoices("p", "drop_prob", "rate"))  # as Dropout
    mode: Literal["row", "batch"] = "row"


@register
class StochasticDepth(LayerKind):
    may_alias = True
    """Drops a residual branch as a whole: put it on the branch, just before the Add that
    brings back the shortcut (``{type: Add, from: [drop_path, input]}``)."""

    type_name = "StochasticDepth"
    aliases = ("DropPath",)
    Params = StochasticDepthParams
    summary = "while training, zero a residual branch per sample (mode: row) or per batch with probability p"

    def infer(self, p: StochasticDepthParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        return LayerResult(TensorType(x.shape, x.dtype, x.notes), {"p": p.p, "mode": p.mode}, 0, 0)
