"""The graph IR: the one thing every later stage (lint, summary, emit, export) reads.

A :class:`Graph` has named inputs, nodes in execution order and named outputs.  A node
is a layer (``kind`` set) or a group (``sub`` set): a block instance or a ``repeat``,
whose sub-graph reads the group's input under the name ``input``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Location
from ..layers.base import LayerKind, LayerResult
from ..shapes.dims import DimLike, add
from ..shapes.tensor import TensorType


def producer(ref: str) -> str:
    """The input or node a value reference reads: ``split.1`` and ``split.left`` are ``split``'s."""
    return ref.split(".", 1)[0]


def port_index(ref: str) -> int | None:
    """Which output of a layer with several a reference reads (references are stored by index,
    ``split.1``), or None for a plain name."""
    _, dot, tail = ref.partition(".")
    return int(tail) if dot and tail.isdigit() else None


@dataclass
class Node:
    name: str  # local name: the attribute name in generated code
    path: str  # qualified name: "layer1.0.conv1"
    type: str  # layer type (canonical) or block name, or "repeat"
    loc: Location | None
    inputs: list[str]  # local names of what it reads: nodes of the same graph, or graph inputs
    kind: LayerKind | None = None
    params: Any = None  # the validated LayerParams
    result: LayerResult | None = None  # None when the layer failed to infer
    sub: Graph | None = None
    explicit_name: bool = False
    trainable: bool = True
    ignore: frozenset[str] = frozenset()  # warning codes silenced for this layer (and a group's children)
    # A group's ``ignore: [{proj: L017}]``: layer path inside it -> the codes silenced there only.
    ignore_inside: dict[str, frozenset[str]] = field(default_factory=dict)
    template: Any = None  # the layer item as written in the spec, ${...} unexpanded
    field_locs: dict[str, Location] = field(default_factory=dict)
    # `use:` applies this earlier module of the same graph again, with its weights (local name);
    # such a node (and every layer inside it) owns no parameters. `tie:` shares the weight of
    # that earlier layer.
    shares: str | None = None
    tie: str | None = None
    # `init:` as the item writes it (expanded), and what graph.init decided for a leaf: parameter
    # (state-dict name within the layer) -> initialiser; the others keep PyTorch's defaults
    init_written: Any = None
    init: dict[str, Any] = field(default_factory=dict)

    @property
    def out(self) -> TensorType | None:
        return self.result.out if self.result else None

    @property
    def is_group(self) -> bool:
        return self.sub is not None


@dataclass
class Graph:
    name: str
    inputs: dict[str, TensorType]
    nodes: list[Node] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (output name, node or input name)
    outputs_written: bool = False  # by ``outputs:``, not the last layer by default
    block: str | None = None  # block name for a block instance; "repeat" for a repeat
    block_args: dict[str, Any] = field(default_factory=dict)
    # The batch symbol of a whole model (dim 1 of a ``batch_first: false`` layer's input, else dim 0
    # of the inputs), set by the builder: the stages after it size the batch by this, not by dim 0.
    batch: str | None = None
    _by_name: dict[str, Node] = field(default_factory=dict, repr=False)

    def add(self, n: Node) -> None:
        self.nodes.append(n)
        self._by_name.setdefault(n.name, n)

    def node(self, name: str) -> Node | None:
        # An index, not a scan: with a scan, building a chain of n layers was O(n²).
        return self._by_name.get(name)

    def value(self, name: str) -> TensorType | None:
        """The type of a value: an input, a layer's output, or one output of a layer with several
        (``split.1``, or ``split.left`` by its name)."""
        if name in self.inputs:
            return self.inputs[name]
        n = self.node(name)
        if n is not None:
            return n.out
        n = self.node(producer(name))
        if n is None or n.result is None or "." not in name:
            return None
        index = n.result.port(name.split(".", 1)[1])
        return n.result.outs[index] if index is not None else None

    def walk(self, prefix_depth: int = 0) -> Iterator[tuple[int, Node]]:
        """Every node, depth-first, with its nesting depth (groups before their children)."""
        for n in self.nodes:
            yield prefix_depth, n
            if n.sub is not None:
                yield from n.sub.walk(prefix_depth + 1)

    def leaves(self) -> Iterator[Node]:
        for _, n in self.walk():
            if n.sub is None:
                yield n

    @property
    def ok(self) -> bool:
        return all(n.result is not None for n in self.nodes)

    def totals(self) -> tuple[int, int, DimLike, int]:
        """(params, trainable params, MACs per sample, buffers) over every leaf."""
        params = trainable = buffers = 0
        macs: DimLike = 0
        for n in self.leaves():
            if n.result is None:
                continue
            params += n.result.params
            trainable += n.result.params if n.trainable else 0
            macs = add(macs, n.result.macs)
            buffers += n.result.buffers
        return params, trainable, macs, buffers
