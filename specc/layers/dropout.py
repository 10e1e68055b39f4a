"""Dropout and its channel-wise and self-normalising variants: identity shapes, no parameters.

MACs are 0: at inference (where MACs matter) every dropout is the identity.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field

from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, register


class DropoutParams(LayerParams):
    p: float = Field(0.5, ge=0.0, le=1.0, validation_alias=AliasChoices("p", "rate"))
    inplace: bool = False


class _Dropout(LayerKind):
    Params = DropoutParams
    defaults = {"p": 0.5, "inplace": False}
    positional = ("p",)

    def infer(self, p: DropoutParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        return LayerResult(TensorType(x.shape, x.dtype, x.notes), {"p": p.p, "inplace": p.inplace}, 0, 0)


def _dropout(name: str, ranks: tuple[int, ...] | None, layout: str, doc: str) -> type[LayerKind]:
    body: dict[str, Any] = {"type_name": name, "ranks": ranks, "layout": layout, "torch_class": f"nn.{name}",
                            "summary": doc, "__module__": __name__}
    return register(type(name, (_Dropout,), body))


Dropout = _dropout("Dropout", None, "", "zero each element with probability p while training")
Dropout1d = _dropout("Dropout1d", (3,), "(N, C, L)", "zero whole channels of (N, C, L) with probability p")
Dropout2d = _dropout("Dropout2d", (4,), "(N, C, H, W)", "zero whole channels of (N, C, H, W) with probability p")
Dropout3d = _dropout("Dropout3d", (5,), "(N, C, D, H, W)",
                     "zero whole channels of (N, C, D, H, W) with probability p")
AlphaDropout = _dropout("AlphaDropout", None, "", "dropout that keeps SELU's mean and variance")
FeatureAlphaDropout = _dropout("FeatureAlphaDropout", (3, 4, 5), "(N, C, *spatial)",
                               "AlphaDropout of whole channels")
