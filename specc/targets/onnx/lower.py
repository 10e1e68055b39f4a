"""A checked spec's shaped graph, written as an ONNX model by the per-kind lowerings of ``kinds/``.

The walk mirrors the PyTorch module the other target writes: a block or ``repeat`` is its
sub-graph applied to the group's input, ``use:`` applies an earlier layer's (or block's) weights
again, and ``tie:`` reads another layer's weight, so one checkpoint fills both targets.  Symbolic
dims of the inputs become ``dim_param``s; a size a layer needs at run time is read from the
inputs' shapes (:meth:`Builder.size`).  No torch is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import onnx
from onnx import helper

from ...graph.ir import Graph, Node, port_index, producer
from ...shapes.tensor import TensorType
from .builder import Builder, Unsupported, bare_symbol, value_info
from .kinds import LOWERINGS, lower
from .kinds.base import Layer
from .weights import Weights

DEFAULT_OPSET = 18
# The IR version ONNX Runtime 1.17 and later read (onnx's own default follows the newest onnx).
IR_VERSION = 9


@dataclass
class Lowered:
    """The model, and each layer's ONNX value with the type specc inferred for it (what the
    verifier compares shape inference against)."""

    model: onnx.ModelProto
    values: dict[str, tuple[str, TensorType]] = field(default_factory=dict)


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


def lower_graph(graph: Graph, weights: Weights, *, name: str = "model", opset: int = DEFAULT_OPSET) -> Lowered:
    """The ONNX model of a checked graph. Raises :class:`Unsupported` for a layer the direct
    target cannot write, and ``weights.check()``'s error for a checkpoint that does not fit."""
    missing = missing_lowerings(graph)
    if missing:
        raise Unsupported("no direct ONNX lowering for " + ", ".join(missing))
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
    env = _walk(graph, {k: k for k in graph.inputs}, "", b, weights, lowered)
    weights.check()
    outputs = []
    for out_name, src in graph.outputs:
        t = graph.value(src)
        assert t is not None
        b.nodes.append(helper.make_node("Identity", [_read(env, src)], [out_name],
                                        name=b.fresh(f"{out_name}/Identity")))
        outputs.append(value_info(out_name, t.dtype, t.shape))
    model = helper.make_model(b.graph(name, inputs, outputs), opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="specc")
    model.ir_version = IR_VERSION
    lowered.model = model
    return lowered


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
            sub_env = _walk(n.sub, {"input": ins[0]}, own + ".", b, weights, lowered)
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
    return value
