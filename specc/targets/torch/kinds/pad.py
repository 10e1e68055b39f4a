"""PyTorch lowering of the padding layers: nn's ZeroPad, ConstantPad, ReflectionPad and
ReplicationPad, which take the spec's padding as written (PyTorch's order)."""

from __future__ import annotations

from .base import Lowering, lowering


class _Pad(Lowering):
    positional = ("padding", "value")


@lowering
class ZeroPad1d(_Pad):
    torch_class = "nn.ZeroPad1d"


@lowering
class ZeroPad2d(_Pad):
    torch_class = "nn.ZeroPad2d"


@lowering
class ZeroPad3d(_Pad):
    torch_class = "nn.ZeroPad3d"


@lowering
class ConstantPad1d(_Pad):
    torch_class = "nn.ConstantPad1d"


@lowering
class ConstantPad2d(_Pad):
    torch_class = "nn.ConstantPad2d"


@lowering
class ConstantPad3d(_Pad):
    torch_class = "nn.ConstantPad3d"


@lowering
class ReflectionPad1d(_Pad):
    torch_class = "nn.ReflectionPad1d"


@lowering
class ReflectionPad2d(_Pad):
    torch_class = "nn.ReflectionPad2d"


@lowering
class ReflectionPad3d(_Pad):
    torch_class = "nn.ReflectionPad3d"


@lowering
class ReplicationPad1d(_Pad):
    torch_class = "nn.ReplicationPad1d"


@lowering
class ReplicationPad2d(_Pad):
    torch_class = "nn.ReplicationPad2d"


@lowering
class ReplicationPad3d(_Pad):
    torch_class = "nn.ReplicationPad3d"
