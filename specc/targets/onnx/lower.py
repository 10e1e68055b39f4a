"""A checked spec's shaped graph, written as an ONNX model by the per-kind lowerings of ``kinds/``.

The walk mirrors the PyTorch module the other target writes: a block or ``repeat`` is its
sub-graph applied to the group's input, ``use:`` applies an earlier layer's (or block's) weights
again, and ``tie:`` reads another layer's weight, so one checkpoint fills both targets.  Symbolic
dims of the inputs become ``dim_param``s; a size a layer needs at run time is read from the
inputs' shapes (:meth:`Builder.size`).  No torch is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ...graph.ir import Graph, Node, port_index, producer
from ...shapes.tensor import TensorType
from .builder import Builder, Unsupported, bare_symbol, tensor_header, value_info
from .kinds import LOWERINGS, lower
from .kinds.base import Layer
from .preprocess import Scaling
from .weights import Weights, chosen_inits

DEFAULT_OPSET = 18
# The IR version ONNX Runtime 1.17 and later read (onnx's own default follows the newest onnx);
# an opset released with a later IR version gets that one (21: 10, 23: 11), as ONNX requires.
IR_VERSION = 9


@dataclass
class Lowered:
    """The model, and each layer's ONNX value with the type specc inferred for it (what the
    verifier compares shape inference against).

    ``proto`` holds the graph with its small initialisers; the weights stay numpy arrays in
    ``tensors`` until written (``backends.onnx_files.save`` streams them to disk), since copying
    them into protobuf costs more than the rest of an export of a large model."""

    proto: onnx.ModelProto
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, tuple[str, TensorType]] = field(default_factory=dict)
    # (module path, ONNX value) of each max pool's indices, in the order the model computes them
    picks: list[tuple[str, str]] = field(default_factory=list)

    @cached_property
    def model(self) -> onnx.ModelProto:
        """The whole model in memory, weights inside (for a model under protobuf's 2 GiB)."""
        whole = onnx.ModelProto()
        whole.CopyFrom(self.proto)
        whole.graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in self.tensors.items())
        return whole

    def light(self) -> onnx.ModelProto:
        """The model with its weights' types and shapes but not their data: what the checker of
        shapes reads, at no cost in a model's size."""
        light = onnx.ModelProto()
        light.CopyFrom(self.proto)
        light.graph.initializer.extend(tensor_header(k, v) for k, v in self.tensors.items())
        return light


def kinds_used(graph: Graph) -> list[str]:
    """The layer kinds ``graph`` applies, in order of first use: a wrapper's wrapped kind too
    (TimeDistributed writes it with that kind's lowering)."""
    kinds: list[str] = []
    for n in graph.leaves():
        if n.kind is None:
            continue
        kinds.append(n.kind.type_name)
        wrapped = n.result.args.get("layer") if n.result is not None else None
        if n.kind.type_name == "TimeDistributed" and isinstance(wrapped, str):
            kinds.append(wrapped)
    return list(dict.fromkeys(kinds))


def missing_lowerings(graph: Graph) -> list[str]:
    """The layer kinds of ``graph`` that have no direct lowering, in order of first use."""
    return [k for k in kinds_used(graph) if k not in LOWERINGS]


def lower_graph(graph: Graph, weights: Weights, *, name: str = "model", opset: int = DEFAULT_OPSET,
                scaling: Scaling | None = None) -> Lowered:
    """The ONNX model of a checked graph. Raises :class:`Unsupported` for a layer the direct
    target cannot write, and ``weights.check()``'s error for a checkpoint that does not fit.
    ``scaling`` (a trained run's) goes around the layers: the graph takes raw inputs."""
    missing = missing_lowerings(graph)
    if missing:
        raise Unsupported("no direct ONNX lowering for " + ", ".join(missing))
    weights.chosen = chosen_inits([(n.path, n.type, (n.kind.weights(n.result.args), n.result.args), n.init)
                                   for n in _owners(graph) if n.init and n.kind is not None and n.result is not None])
    b = Builder(opset)
    inputs = []
    for key, t in graph.inputs.items():
        b.reserve(key)
        inputs.append(value_info(key, t.dtype, t.shape))
        for axis, d in enumerate(t.shape):
            symbol = bare_symbol(d)
            if symbol is not None and symbol not in b.symbol_at:
                b.symbol_at[symbol] = (key, axis)
    for out_name, _ in graph.outputs:
        b.reserve(out_name)
    lowered = Lowered(onnx.ModelProto())
    scaling = scaling or Scaling()
    start: dict[str, str | list[str]] = {k: scaling.before(b, k, t.dtype) for k, t in graph.inputs.items()}
    env = _walk(graph, start, "", b, weights, lowered)
    weights.check()
    outputs = []
    for out_name, src in graph.outputs:
        t = graph.value(src)
        assert t is not None
        value = scaling.after(b, out_name, _read(env, src), t.dtype)
        b.nodes.append(helper.make_node("Identity", [value], [out_name],
                                        name=b.fresh(f"{out_name}/Identity")))
        outputs.append(value_info(out_name, t.dtype, t.shape))
    written, lowered.tensors = b.graph(name, inputs, outputs)
    lowered.proto = helper.make_model(written, opset_imports=[helper.make_opsetid("", opset)], producer_name="specc")
    lowered.proto.ir_version = max(IR_VERSION, helper.find_min_ir_version_for(list(lowered.proto.opset_import)))
    return lowered


def _owners(g: Graph) -> list[Node]:
    """The layers that own their parameters (not a `use:` of another's module)."""
    out: list[Node] = []
    for n in g.nodes:
        if n.shares is None:
            out += _owners(n.sub) if n.sub is not None else [n]
    return out


def _read(env: dict[str, str | list[str]], ref: str) -> str:
    index = port_index(ref)
    value = env[producer(ref)] if index is not None else env[ref]
    if isinstance(value, list):
        return value[index or 0]
    return value


def _walk(g: Graph, env: dict[str, str | list[str]], prefix: str, b: Builder, weights: Weights,
          lowered: Lowered) -> dict[str, str | list[str]]:
    """Lower the nodes of ``g`` in order; ``prefix`` is the state-dict prefix of ``g``'s module."""
    for n in g.nodes:
        own = f"{prefix}{n.shares or n.name}"
        ins = [_read(env, s) for s in n.inputs]
        if n.sub is not None:
            sub_env = _walk(n.sub, dict(zip(n.sub.inputs, ins)), own + ".", b, weights, lowered)
            env[n.name] = _read(sub_env, n.sub.outputs[0][1])
            continue
        env[n.name] = _leaf(g, n, ins, own, prefix, b, weights, lowered)
    return env


def _leaf(g: Graph, n: Node, ins: list[str], own: str, prefix: str, b: Builder, weights: Weights,
          lowered: Lowered) -> str | list[str]:
    assert n.kind is not None and n.result is not None
    in_types = [t for s in n.inputs if (t := g.value(s)) is not None]
    outs = list(n.result.outs) or [n.result.out]
    layer = Layer(b, weights, n.kind.type_name, n.path, own, dict(n.result.args), ins, in_types, outs,
                  tie=f"{prefix}{n.tie}" if n.tie is not None else None)
    try:
        value = lower(layer)
    except Unsupported as exc:
        raise Unsupported(f"{n.type} '{n.path}': {exc}") from None
    values = value if isinstance(value, list) else [value]
    for v, t in zip(values, outs):
        lowered.values[v] = (n.path, t)
    if n.result.args.get("return_indices") and len(values) == 2:
        lowered.picks.append((own, values[1]))
    return value
