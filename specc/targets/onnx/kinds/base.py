"""How a layer kind is written as ONNX nodes: the context a lowering gets, and the registry.

A lowering is a function registered under the kind names it writes (``@lowers("Conv1d",
"Conv2d")``). It gets a :class:`Layer`: the layer's resolved attributes (``args``, the same
``LayerResult.args`` the PyTorch target reads), its input values and their static types, its
output type(s), and the means to add nodes (``op``), constants and run-time sizes, and
parameters under their PyTorch state-dict names (``param``).  It returns the name of the value
it computes (a list for a layer with several outputs, a Split's).  A configuration it cannot
write is refused by ``limits.py`` before the lowering runs (:func:`lower`); export then takes the torch
route and says why.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ....layers.catalogue import FAMILIES, FAMILY_OF
from ....shapes.dims import DimLike
from ....shapes.tensor import TensorType
from ..builder import Builder, Unsupported
from ..limits import direct_problem
from ..weights import Init, Weights

__all__ = ["LOWERINGS", "Layer", "Lowering", "Unsupported", "lower", "lowers"]


@dataclass
class Layer:
    b: Builder
    weights: Weights
    kind: str  # the layer kind's type name (one lowering may write several)
    path: str  # the layer's qualified name, for the names of its nodes
    prefix: str  # its module's state-dict prefix (another layer's under use:)
    args: dict[str, Any]
    inputs: list[str]
    in_types: list[TensorType]
    outs: list[TensorType]  # one per output
    tie: str | None = None  # the state-dict prefix of the layer whose weight this one shares

    @property
    def x(self) -> str:
        return self.inputs[0]

    @property
    def in_type(self) -> TensorType:
        return self.in_types[0]

    @property
    def out(self) -> TensorType:
        return self.outs[0]

    def op(self, op_type: str, inputs: Sequence[str], outputs: int = 1, domain: str = "", **attrs: Any) -> Any:
        return self.b.op(op_type, inputs, self.path, outputs, domain, **attrs)

    def const(self, value: Any, dtype: str = "int64") -> str:
        return self.b.const(value, dtype)

    def size(self, d: DimLike) -> str:
        return self.b.size(d)

    def shape(self, dims: Sequence[DimLike]) -> str:
        return self.b.shape(dims)

    def param(self, key: str, shape: Sequence[int], init: Init, dtype: str | None = None) -> str:
        """The initialiser of this layer's tensor ``key`` (``weight``, ``bias``, ``running_mean``…),
        named as in the PyTorch state dict; read once when several layers share the module."""
        name = f"{self.prefix}.{key}" if self.prefix else key
        if key == "weight" and self.tie is not None:
            self.weights.also_read(name)
            name = f"{self.tie}.weight"
        if name not in self.b.initializers:
            self.b.initializer(name, self.weights.tensor(name, shape, init, dtype or self.float_dtype))
        return name

    @property
    def float_dtype(self) -> str:
        """The float type the layer computes in: its input's, else its output's (an Embedding
        reads ints), else float32."""
        for t in [*self.in_types, *self.outs]:
            if t.dtype.startswith(("float", "bfloat")):
                return t.dtype
        return "float32"


Lowering = Callable[[Layer], "str | list[str]"]
_REGISTERED: dict[str, Lowering] = {}


class _Lowerings(Mapping[str, Lowering]):
    """The lowering of each kind, by type name.  A kind's family module (named as the layer
    family in ``specc/layers/``) is imported on its first lookup, so an export pays only for
    the families its model uses, as ``specc check`` does; iterating imports every family."""

    def _load(self, kind: str) -> None:
        family = FAMILY_OF.get(kind)
        if family is not None and kind not in _REGISTERED:
            importlib.import_module(f"{__package__}.{family}")

    def __getitem__(self, kind: str) -> Lowering:
        self._load(kind)
        return _REGISTERED[kind]

    def __contains__(self, kind: object) -> bool:
        if isinstance(kind, str):
            self._load(kind)
        return kind in _REGISTERED

    def __iter__(self) -> Iterator[str]:
        for family in FAMILIES:
            importlib.import_module(f"{__package__}.{family}")
        return iter(dict(_REGISTERED))

    def __len__(self) -> int:
        return sum(1 for _ in self)


LOWERINGS: Mapping[str, Lowering] = _Lowerings()


def lowers(*kinds: str) -> Callable[[Lowering], Lowering]:
    """Register the decorated function as the ONNX lowering of ``kinds``."""

    def register(fn: Lowering) -> Lowering:
        for k in kinds:
            if k in _REGISTERED:
                raise ValueError(f"ONNX lowering of {k} registered twice")
            _REGISTERED[k] = fn
        return fn

    return register


def lower(layer: Layer) -> str | list[str]:
    """The layer written by its kind's lowering, or :class:`Unsupported` with the reason
    ``limits.py`` gives: what ``specc check`` reads, so a lowering never meets a layer check
    judged unwritable, and check never refuses one the lowering writes."""
    why = direct_problem(layer.kind, layer.args, layer.in_types, layer.outs, layer.b.opset)
    if why is not None:
        raise Unsupported(why)
    return LOWERINGS[layer.kind](layer)
