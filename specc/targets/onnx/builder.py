"""The op builder of the direct ONNX target: nodes, constants, initialisers and run-time sizes.

Built on ``onnx.helper`` alone (no onnx-ir, no spox): the direct target is meant to run where only
``onnx``, ``numpy`` and ``onnxruntime`` are installed (``specc[deploy]``), and the graphs specc
writes are plain feed-forward lists of nodes whose shapes specc already knows, so a typed graph
library would add an import and a layer of objects without checking anything specc does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ...shapes.dims import Dim, DimLike, Floor, Sym

# specc's dtype names -> ONNX element types
ELEM = {
    "float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "bfloat16": TensorProto.BFLOAT16,
    "float64": TensorProto.DOUBLE, "int64": TensorProto.INT64, "int32": TensorProto.INT32,
    "int16": TensorProto.INT16, "int8": TensorProto.INT8, "uint8": TensorProto.UINT8, "bool": TensorProto.BOOL,
}


# Initialisers up to this size stay inside the graph as built (shape inference reads the small
# constants that give shapes); larger ones are kept as arrays (:meth:`Builder.graph`).
INLINE_BYTES = 1024


class Unsupported(Exception):
    """A layer, as configured, that the direct target cannot write (export then takes the torch route)."""


@dataclass
class Builder:
    """Collects the nodes and initialisers of one graph, with fresh names for what it computes."""

    opset: int
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: dict[str, np.ndarray] = field(default_factory=dict)
    # symbol -> (graph input, axis) where the symbol is a bare size, to read it at run time
    symbol_at: dict[str, tuple[str, int]] = field(default_factory=dict)
    _taken: set[str] = field(default_factory=set)
    _consts: dict[tuple[Any, ...], str] = field(default_factory=dict)
    _sizes: dict[Any, str] = field(default_factory=dict)

    def fresh(self, hint: str) -> str:
        name, k = hint, 1
        while name in self._taken:
            k += 1
            name = f"{hint}_{k}"
        self._taken.add(name)
        return name

    def reserve(self, name: str) -> None:
        self._taken.add(name)

    def op(self, op_type: str, inputs: Sequence[str], hint: str, outputs: int = 1, domain: str = "",
           **attrs: Any) -> Any:
        """Add one node; its output name (a list of them when ``outputs`` > 1). An empty input
        name is an omitted optional input."""
        outs = [self.fresh(f"{hint}" if outputs == 1 else f"{hint}_{i}") for i in range(outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self.fresh(f"{hint}/{op_type}"),
                                           domain=domain or None, **attrs))
        return outs[0] if outputs == 1 else outs

    def const(self, value: Any, dtype: str | np.dtype[Any] = "int64") -> str:
        """A constant tensor (an initialiser), shared by every node that needs the same value."""
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self._consts:
            name = self.fresh("const")
            self.initializers[name] = arr
            self._consts[key] = name
        return self._consts[key]

    def initializer(self, name: str, value: np.ndarray) -> str:
        self.reserve(name)
        self.initializers[name] = value
        return name

    # -- sizes known only at run time ------------------------------------------------------------
    def size(self, d: DimLike) -> str:
        """A 1-element int64 tensor holding size ``d`` (a number, or an expression of the inputs'
        symbols evaluated at run time from the inputs' shapes)."""
        if isinstance(d, int):
            return self.const([d])
        key = ("dim", str(d))
        if key in self._sizes:
            return self._sizes[key]
        total: str | None = None
        for mono, coeff in d.terms:
            term: str | None = None
            for atom in mono:
                v = self._atom(atom)
                term = v if term is None else self.op("Mul", [term, v], "size")
            if term is None:
                term = self.const([coeff])
            elif coeff != 1:
                term = self.op("Mul", [term, self.const([coeff])], "size")
            total = term if total is None else self.op("Add", [total, term], "size")
        assert total is not None
        self._sizes[key] = total
        return total

    def _atom(self, atom: Sym | Floor) -> str:
        if isinstance(atom, Floor):
            # sizes are non-negative, where Div's truncation is the floor
            return self.op("Div", [self.size(atom.num), self.const([atom.den])], "size")
        if atom.name not in self.symbol_at:
            raise Unsupported(f"the size {atom.name} is not a dim of any input, so the model cannot read it")
        key = ("sym", atom.name)
        if key not in self._sizes:
            value, axis = self.symbol_at[atom.name]
            if self.opset >= 15:
                self._sizes[key] = self.op("Shape", [value], f"{atom.name}", start=axis, end=axis + 1)
            else:  # Shape's start and end came in opset 15, Slice's bounds as inputs in opset 10
                whole = self.op("Shape", [value], f"{atom.name}")
                self._sizes[key] = (
                    self.op("Slice", [whole, self.const([axis]), self.const([axis + 1])], f"{atom.name}")
                    if self.opset >= 10 else
                    self.op("Slice", [whole], f"{atom.name}", starts=[axis], ends=[axis + 1], axes=[0]))
        return self._sizes[key]

    def shape(self, dims: Sequence[DimLike]) -> str:
        """A 1-D int64 shape tensor for ``dims``: one constant when every size is fixed."""
        if all(isinstance(d, int) for d in dims):
            return self.const(list(dims))
        parts = [self.size(d) for d in dims]
        return self.op("Concat", parts, "shape", axis=0)

    def subgraph(self) -> Builder:
        """A builder for the body of a Scan or Loop: its names are fresh in the whole model (a body
        may not shadow an outer value), and its constants and parameters are initialisers of the
        outer graph, which the body reads from the outer scope."""
        return Builder(self.opset, initializers=self.initializers, symbol_at=self.symbol_at, _taken=self._taken,
                       _consts=self._consts)

    def body(self, name: str, inputs: Sequence[onnx.ValueInfoProto],
             outputs: Sequence[onnx.ValueInfoProto]) -> onnx.GraphProto:
        """The graph of a :meth:`subgraph` builder (its initialisers live in the outer graph)."""
        return helper.make_graph(self.nodes, name, list(inputs), list(outputs))

    def graph(self, name: str, inputs: Sequence[onnx.ValueInfoProto], outputs: Sequence[onnx.ValueInfoProto],
              value_info: Sequence[onnx.ValueInfoProto] = ()) -> tuple[onnx.GraphProto, dict[str, np.ndarray]]:
        """The graph with its small initialisers (constants, shapes) inside, and the large ones
        (weights) apart, as arrays: the writer puts those on disk without copying them into
        protobuf first."""
        small = {k: v for k, v in self.initializers.items() if v.nbytes <= INLINE_BYTES}
        large = {k: v for k, v in self.initializers.items() if v.nbytes > INLINE_BYTES}
        inits = [numpy_helper.from_array(v, k) for k, v in small.items()]
        graph = helper.make_graph(self.nodes, name, list(inputs), list(outputs), inits, value_info=list(value_info))
        return graph, large


def tensor_header(name: str, arr: np.ndarray) -> onnx.TensorProto:
    """A tensor's name, type and shape, without its data (what a writer or shape inference needs)."""
    elem = helper.np_dtype_to_tensor_dtype(arr.dtype.newbyteorder("="))  # the bytes are written little-endian
    return onnx.TensorProto(name=name, dims=arr.shape, data_type=elem)


def value_info(name: str, dtype: str, shape: Sequence[DimLike]) -> onnx.ValueInfoProto:
    """A typed value: fixed sizes as dim_value, symbols (and expressions of them) as dim_param."""
    return helper.make_tensor_value_info(name, ELEM[dtype], [d if isinstance(d, int) else _dim_param(d)
                                                             for d in shape])


def bare_symbol(d: DimLike) -> str | None:
    """The name when ``d`` is one symbol alone (``B``), else None (numbers, ``T - 2``)."""
    if isinstance(d, Dim) and len(d.terms) == 1:
        mono, coeff = d.terms[0]
        if coeff == 1 and len(mono) == 1 and isinstance(mono[0], Sym):
            return mono[0].name
    return None


def _dim_param(d: Dim) -> str:
    return str(d).replace(" ", "")


def attr_ints(v: int | Sequence[int], n: int) -> list[int]:
    return [v] * n if isinstance(v, int) else list(v)
