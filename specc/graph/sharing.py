"""Shared and tied weights: ``use:`` applies an earlier layer or block again, ``tie:`` shares a weight.

``{use: encoder, from: image_b}`` calls the module built for ``encoder`` on another input, as
PyTorch does when ``forward`` calls the same attribute twice: one set of weights, counted once,
its MACs counted per call.  The module was built for its first input, so the second must give it
the same constructor arguments (a Linear fed 32 features cannot be the one built for 64).

``tie: embed`` on a Linear makes its weight the Embedding's (``head.weight = embed.weight``): the
Linear's (out_features, in_features) must be the table's (num_embeddings, embedding_dim).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..diagnostics import Diagnostic, SpecError, yaml_flow
from ..layers.base import LayerResult
from ..layers.check import check_layer
from ..layers.reparam import normalised
from ..shapes.dims import fmt_shape
from ..shapes.tensor import TensorType
from ..validate.items import LayerDecl
from .ir import Graph, Node

if TYPE_CHECKING:
    from .build import GraphBuilder

# The keys a use: item may carry: everything else belongs to the module it applies.
USE_KEYS = frozenset({"use", "from", "name", "ignore", "when"})
# The weight matrix a tie: shares, as the constructor arguments that give its (rows, columns):
# nn.Linear.weight is (out_features, in_features), nn.Embedding.weight (num_embeddings, embedding_dim).
TIED_WEIGHT = {"Linear": ("out_features", "in_features"), "Embedding": ("num_embeddings", "embedding_dim")}


def earlier_node(b: GraphBuilder, g: Graph, item: LayerDecl, key: str, path: str) -> Node | None:
    """The earlier layer of this scope that ``key`` (use: or tie:) names, or None (reported)."""
    name = getattr(item, key)
    at = item.at(key)
    if not isinstance(name, str):
        b.error("V003", f"'{path}': {key}: takes the name of a layer above it, got {name!r}", at,
                f"write {key}: <layer name>", layer=path)
        return None
    found = g.node(name)
    if found is not None:
        while found.shares is not None and g.node(found.shares) is not None:  # a use of a use: the module itself
            found = g.node(found.shares)  # type: ignore[assignment]
        return found
    if name in g.inputs:
        b.error("G010", f"'{path}': {key}: names the input '{name}', which has no weights", at,
                f"name the layer whose weights it shares; to read '{name}', write from: {name}", layer=path)
    elif b._declared and name in b._declared[-1]:
        b.error("G002", f"'{path}': {key}: names '{name}', which is defined after it", at,
                f"move '{name}' above this layer; layers run in the order written", layer=path)
    elif not (b._rejected and name in b._rejected[-1]):
        known = [n.name for n in g.nodes if n.result is not None and n.shares is None]
        b.error("G001", f"'{path}': {key}: names '{name}', which is not a layer above it", at,
                f"name one of: {', '.join(known[-8:])}" if known else "give the layer it shares a name: first",
                layer=path)
    return None


def reuse(b: GraphBuilder, g: Graph, item: LayerDecl, node: Node, decls: dict[str, LayerDecl]) -> Node:
    """``node`` as a second call of the module ``use:`` names (``decls``: the items built so far,
    by path, to rebuild a block on the new input)."""
    path = node.path
    repeated = item.group is not None and item.group.block is None  # its keys are the repeated item's
    extra = ["repeat"] if repeated else sorted(k for k in item.keys if k not in USE_KEYS)
    if extra:
        b.error("V040", f"'{path}' applies '{item.use}' again with use:, so it takes no {extra[0]}:",
                item.at(extra[0]) if extra[0] != "repeat" else item.loc,
                f"remove {extra[0]}: (the module is the one use: names, built once); for a layer with weights of "
                "its own, write it out with type: instead of use:", layer=path)
        return node
    target = earlier_node(b, g, item, "use", path)
    if target is None:
        return node
    node.shares, node.type, node.kind, node.params = target.name, target.type, target.kind, target.params
    node.trainable = target.trainable
    ins = [g.value(s) for s in node.inputs]
    if target.result is None or not ins or any(t is None for t in ins):
        return node  # reported already
    tensors: list[TensorType] = [t for t in ins if t is not None]
    built_for = fmt_shape(g.value(target.inputs[0]).shape) if target.inputs and g.value(target.inputs[0]) else "?"
    on = f"{item.source if isinstance(item.source, str) else 'its input'} {fmt_shape(tensors[0].shape)}"
    fix = (f"feed it a tensor shaped like the one '{target.name}' reads ({built_for}), or write a layer with "
           f"weights of its own (type: ... instead of use:)")
    if len(node.inputs) != len(target.inputs) and target.inputs:
        # a mask or a second sequence left out (or one too many): the shape is not what is wrong
        keep = [*node.inputs[:1], *target.inputs[1:]] if len(node.inputs) < len(target.inputs) else \
            node.inputs[:len(target.inputs)]
        fix = (f"'{target.name}' reads {len(target.inputs)} inputs (from: {yaml_flow(list(target.inputs))}); "
               f"give this call as many, in that order, e.g. from: {yaml_flow(keep)}")
    at = item.at("from") if "from" in item.keys else node.loc
    if target.sub is None:
        assert target.kind is not None
        try:
            result = check_layer(target.kind, target.params, tensors)
        except SpecError as err:
            b.error("G008", f"'{path}' applies {target.type} '{target.name}' to {on}, which it cannot take: "
                    f"{err.message.removeprefix(f'{target.type}: ')}", at, fix, layer=path)
            return node
        if result.args != target.result.args and not (target.result.params or target.result.buffers):
            # Written differently for this input (an adaptive pool that does not divide it is written
            # in its exportable form): with no weights to share, it is a layer of its own.
            node.shares = None
        if not _fits_later_stages(b, node, result, list(zip(node.inputs, tensors)), item):
            return node
        if node.shares is None:
            node.result = result
            return node
        pairs = [(target, result)]
    else:
        before = len(b.diags)
        b._group(g, decls[target.path], node)
        inner = b.diags[before:]
        if inner or node.sub is None or node.result is None:
            del b.diags[before:]
            why = inner[0].message if inner else "its layers do not fit it"
            b.error("G008", f"'{path}' applies block '{target.name}' to {on}, which it cannot take: {why}", at,
                    fix, layer=path)
            node.sub, node.result = None, None
            return node
        assert target.sub is not None
        pairs = list(zip(target.sub.leaves(), (n.result for n in node.sub.leaves())))
        for mine in node.sub.leaves():  # called through node's module: their tensors are the target's
            if mine.result is not None:
                mine.result = dataclasses.replace(mine.result, params=0, buffers=0)
        result = node.result
    for t, r in pairs:
        if t.result is None or r is None:
            continue
        # The module is written once, for its first input: on this one it must be the same (the sizes it
        # took from its input, and the form it is written in, which may depend on them).
        differ = next((k for k in t.result.args if r.args.get(k) != t.result.args[k]), None)
        if differ is not None:
            who = f"its {t.type} '{t.path}'" if t is not target else "it"
            b.error("G008", f"'{path}' applies {target.type} '{target.name}' to {on}, but '{target.name}' was "
                    f"built for {built_for}: on this input {who} would need {differ} {r.args[differ]}, and "
                    f"it has {t.result.args[differ]}", at, fix, layer=path)
            node.sub, node.result = None, None
            return node
    node.result = dataclasses.replace(result, params=0, buffers=0)
    return node


def _fits_later_stages(b: GraphBuilder, node: Node, result: LayerResult, inputs: list[tuple[str, TensorType]],
                       item: LayerDecl) -> bool:
    """What the builder requires of every layer (a free batch, what the target can export) holds
    for this call too: a module exported for its first input may not be for this one."""
    assert node.kind is not None
    try:
        b._check_requirements(result)
        b._check_target(node.kind, result, inputs, node.path)
    except SpecError as err:
        b.diags.append(Diagnostic(err.code, f"{node.type} '{node.path}': {err.message}",
                                  item.at("from") if "from" in item.keys else node.loc, err.hint, "error", node.path))
        return False
    return True


def tie(b: GraphBuilder, g: Graph, item: LayerDecl, node: Node) -> None:
    """Share the weight of the layer ``tie:`` names, once ``node`` is built; its own weight is
    then no parameter of the model."""
    path = node.path
    if node.type not in TIED_WEIGHT or node.sub is not None:
        b.error("V041", f"{node.type} '{path}': tie: shares a weight matrix, and {node.type} has none that "
                "can be tied", item.at("tie"), "put tie: on the output Linear, naming the Embedding: "
                "{type: Linear, out_features: <vocabulary size>, tie: embed}", layer=path)
        return
    target = earlier_node(b, g, item, "tie", path)
    if target is None:
        return
    if target.type not in TIED_WEIGHT or target.sub is not None:
        b.error("G010", f"{node.type} '{path}': tie: names {target.type} '{target.name}', which has no weight "
                "matrix to share", item.at("tie"), "name an Embedding (or a Linear) above this layer", layer=path)
        return
    if node.result is None or target.result is None:
        return
    for who, args in ((f"{node.type} '{path}'", node.result.args), (f"{target.type} '{target.name}'",
                                                                    target.result.args)):
        if normalised(args):
            b.error("V051", f"{node.type} '{path}': tie: shares a plain weight, and {who} has {normalised(args)} "
                    "on its weight", item.at("tie"), f"remove {normalised(args)} or the tie:", layer=path)
            node.result = None
            return
    renormed = next((n for n in (target, node) if n.result.args.get("max_norm") is not None), None)
    if renormed is not None:
        # max_norm rewrites the rows looked up in the stored table during forward: the other layer would
        # read a table that depends on the ids of every earlier call, which no export reproduces
        whose = "and its own" if renormed is node else "whose"
        b.error("V169", f"{node.type} '{path}': tie: shares the table of {target.type} '{target.name}', {whose} "
                f"max_norm: {renormed.result.args['max_norm']} renormalises the rows it looks up in that table in "
                "place, so the other layer would read rows rescaled by the ids of every earlier call",
                item.at("tie"), f"remove max_norm from '{renormed.name}' or the tie:", layer=path)
        node.result = None
        return
    rows, cols = (node.result.args[k] for k in TIED_WEIGHT[node.type])
    want = tuple(target.result.args[k] for k in TIED_WEIGHT[target.type])
    if (rows, cols) != want:
        names = TIED_WEIGHT[target.type]
        b.error("G009", f"{node.type} '{path}': tie: its weight is ({rows}, {cols}), and the weight of {target.type} "
                f"'{target.name}' is {want} ({', '.join(names)}): tied weights must have one shape",
                item.at("tie"), f"set {TIED_WEIGHT[node.type][0]}: {want[0]} and feed it {want[1]} features "
                f"(the {names[1]}), so both are ({want[0]}, {want[1]})", layer=path)
        node.result = None
        return
    node.tie = target.name
    node.result = dataclasses.replace(node.result, params=node.result.params - rows * cols)


def shared_note(n: Node) -> str | None:
    """What the summary says of a layer that shares weights, or None."""
    if n.shares is not None:
        return f"shares {n.shares}"
    if n.tie is not None:
        return f"weight tied to {n.tie}"
    return None

