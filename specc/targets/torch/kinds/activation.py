"""PyTorch lowering of the element-wise activations: each is the nn module of its name (Abs,
which has none, is torch.abs inline)."""

from __future__ import annotations

from typing import Any

from .base import Lowering, lowering, on


class _Activation(Lowering):
    defaults = {"inplace": False}


@lowering
class ReLU(_Activation):
    torch_class = "nn.ReLU"


@lowering
class ReLU6(_Activation):
    torch_class = "nn.ReLU6"


@lowering
class LeakyReLU(_Activation):
    torch_class = "nn.LeakyReLU"
    defaults = {"inplace": False, "negative_slope": 0.01}


@lowering
class ELU(_Activation):
    torch_class = "nn.ELU"
    defaults = {"inplace": False, "alpha": 1.0}


@lowering
class SELU(_Activation):
    torch_class = "nn.SELU"


@lowering
class CELU(_Activation):
    torch_class = "nn.CELU"
    defaults = {"inplace": False, "alpha": 1.0}


@lowering
class GELU(_Activation):
    torch_class = "nn.GELU"
    defaults = {"inplace": False, "approximate": 'none'}


@lowering
class SiLU(_Activation):
    torch_class = "nn.SiLU"


@lowering
class Mish(_Activation):
    torch_class = "nn.Mish"


@lowering
class Sigmoid(_Activation):
    torch_class = "nn.Sigmoid"


@lowering
class Tanh(_Activation):
    torch_class = "nn.Tanh"


@lowering
class Softplus(_Activation):
    torch_class = "nn.Softplus"
    defaults = {"inplace": False, "beta": 1.0, "threshold": 20.0}


@lowering
class Softsign(_Activation):
    torch_class = "nn.Softsign"


@lowering
class Hardtanh(_Activation):
    torch_class = "nn.Hardtanh"
    defaults = {"inplace": False, "min_val": -1.0, "max_val": 1.0}


@lowering
class Hardswish(_Activation):
    torch_class = "nn.Hardswish"


@lowering
class Hardsigmoid(_Activation):
    torch_class = "nn.Hardsigmoid"


@lowering
class Softmax(Lowering):
    torch_class = "nn.Softmax"


@lowering
class Sparsemax(Lowering):
    torch_class = "Sparsemax"
    support = ("sparsemax",)
    defaults = {"dim": -1}


@lowering
class GLU(Lowering):
    torch_class = "nn.GLU"
    defaults = {"dim": -1}


@lowering
class LogSoftmax(Lowering):
    torch_class = "nn.LogSoftmax"


@lowering
class PReLU(Lowering):
    torch_class = "nn.PReLU"
    defaults = {"num_parameters": 1, "init": 0.25}


@lowering
class Abs(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"torch.abs({inputs[0]})"


class _Scaled(Lowering):
    # torch has no module for these: torch.sin(x) inline, as Abs is
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        scale = float(args["scale"])
        x = inputs[0] if scale == 1 else f"{on(inputs[0])} * {scale!r}"
        return f"torch.{type(self).__name__.lower()}({x})"


@lowering
class Sin(_Scaled):
    pass


@lowering
class Cos(_Scaled):
    pass


@lowering
class Exp(_Scaled):
    pass


@lowering
class Scale(Lowering):
    def forward(self, module: str, inputs: list[str], args: dict[str, Any]) -> str:
        return f"{on(inputs[0])} * {float(args['scale'])!r}"
