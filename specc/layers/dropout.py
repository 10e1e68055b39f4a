"""Dropout and its channel-wise and self-normalising variants, and stochastic depth (DropPath):
identity shapes, no parameters.

MACs are 0: at inference (where MACs matter) every dropout is the identity.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field

from ..shapes.tensor import TensorType
from .base import LayerKind, LayerParams, LayerResult, register


class DropoutParams(LayerParams):
    p: float = Field(0.5, ge=0.0, le=1.0, validation_alias=AliasChoices("p", "rate"))
    inplace: bool = False


class _Dropout(LayerKind):
    may_alias = True
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


# torchvision.ops.StochasticDepth, written out because torchvision is not a dependency of the
# generated code.  At eval it returns its input untouched, so it exports to ONNX as nothing.
STOCHASTIC_DEPTH_SUPPORT = '''
class StochasticDepth(nn.Module):
    """Stochastic depth (Huang et al., 2016; timm's DropPath), as in torchvision.ops:
    while training, zero the whole residual branch of each sample (mode="row") or of
    the whole batch (mode="batch") with probability p and scale what is kept by
    1 / (1 - p).  The identity at eval."""

    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        if self.mode == "row":
            size = [x.shape[0]] + [1] * (x.ndim - 1)
        else:
            size = [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"
'''


class StochasticDepthParams(LayerParams):
    p: float = Field(ge=0.0, le=1.0, validation_alias=AliasChoices("p", "drop_prob", "rate"))
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
    torch_class = "StochasticDepth"
    support_code = STOCHASTIC_DEPTH_SUPPORT
    positional = ("p",)
    defaults = {"mode": "row"}

    def infer(self, p: StochasticDepthParams, ins: list[TensorType]) -> LayerResult:
        x = ins[0]
        return LayerResult(TensorType(x.shape, x.dtype, x.notes), {"p": p.p, "mode": p.mode}, 0, 0)
