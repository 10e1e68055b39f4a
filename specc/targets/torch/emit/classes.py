"""Block classes: one class per structure of block, shared by the instances that have it.

The constructor values that differ between the instances of a class become its
parameters, named after the block argument they equal when there is one.  Planning runs
in three steps, each finished before the next reads it: group every block instance by
structure (nested blocks first), choose each class's parameters (nested classes first, so
an instance of one is written with its final arguments), and write the records.  Maps
are keyed by a node's qualified path, stable for the whole graph.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from ....diagnostics import SpecError
from ....graph.ir import Graph, Node
from ....load.expr import evaluate_expression, python_source
from ..lower import has_module, init_expr, support_texts
from .errors import EmitError
from .forward import (
    BLOCK_CHAIN_NAMES,
    BLOCK_INPUT_NAMES,
    constructor_args,
    forward_steps,
    free_name,
    graph_names,
    loops,
    tie_lines,
)
from .forward import shape_comment as _shape_comment
from .quote import Code, Ref, ident, lit
from .records import Attribute, ClassRecord, ForwardStep


@dataclass(frozen=True)
class Member:
    """One attribute of a graph's module: a layer with a module, a block instance or a repeat."""

    attr: str
    node: Node
    args: dict[str, Any]  # a layer's constructor arguments; a group's come from planning
    cls: str | None = None  # the class of a block instance


@dataclass
class Instance:
    node: Node
    members: list[Member]
    steps: list[ForwardStep]
    returns: list[str]
    input_vars: list[str]


@dataclass
class BlockClass:
    """One class: the block instances that share a structure."""

    block: str
    name: str
    sig: tuple
    instances: list[Instance]
    params: list[str] = field(default_factory=list)
    mapping: dict[tuple[str, str], str] = field(default_factory=dict)  # (attr, arg) -> parameter expression
    annotations: dict[str, str] = field(default_factory=dict)


def _blocks_used(g: Graph) -> set[str]:
    """The names of the blocks instantiated anywhere under ``g``."""
    out: set[str] = set()
    for n in g.nodes:
        if n.sub is not None:
            out |= _blocks_used(n.sub)
            if n.sub.block is not None and n.sub.block != "repeat":
                out.add(n.sub.block)
    return out


class ClassPlan:
    """The block classes of one module, and the support code their layers need."""

    def __init__(self, taken: set[str]):
        self.classes: list[BlockClass] = []
        self.class_of: dict[str, tuple[BlockClass, Instance]] = {}  # block instance path ->
        self.kwargs: dict[str, dict[str, Any]] = {}  # block instance path -> its constructor arguments
        self.support: dict[str, None] = {}  # texts in the order the layers needing them are met
        self.taken = taken
        # Every block the spec uses keeps its own name: a second structure of block ``Unit`` is
        # numbered past them, so it never takes the name of a real block called ``Unit2``.
        self.block_names: set[str] = set()
        self.uses_frozen_norms = False

    # grouping -----------------------------------------------------------------------------------
    def group(self, g: Graph) -> None:
        """Give every block instance under ``g`` its class, nested instances first."""
        self.block_names |= _blocks_used(g)
        for n in g.nodes:
            if n.sub is None or n.shares is not None:  # a second call of a module has no class of its own
                continue
            self.group(n.sub)
            if n.sub.block != "repeat":
                self._add_instance(n)

    def _add_instance(self, n: Node) -> None:
        assert n.sub is not None and n.sub.block is not None
        members = self.members(n.sub)
        taken = graph_names(n.sub)
        # the block's inputs by their names, but `input` (the builtin): x, or another name free
        input_vars = {name: ident(name) if name != "input" else free_name(BLOCK_INPUT_NAMES, taken)
                      for name in n.sub.inputs}
        chain = free_name(BLOCK_CHAIN_NAMES, taken | set(input_vars.values()))
        steps, returns = forward_steps(n.sub, input_vars, chain, [s for _, s in n.sub.outputs])
        # Layers frozen by the block itself (trainable: false inside it) are frozen in the class;
        # instances that differ in that need classes of their own.  A frozen instance is frozen
        # where it is used, so it takes no part in this.
        own_frozen = tuple(n.trainable and not m.node.trainable for m in members)
        sig = (tuple(self._member_sig(m) for m in members), tuple((s.target, s.expr, s.loop) for s in steps),
               tuple(returns), own_frozen, tuple(tie_lines(n.sub)))
        inst = Instance(n, members, steps, returns, list(input_vars.values()))
        cls = next((c for c in self.classes if c.block == n.sub.block and c.sig == sig), None)
        if cls is None:
            name = n.sub.block if n.sub.block not in self.taken else self._fresh(n.sub.block)
            self.taken.add(name)
            cls = BlockClass(n.sub.block, name, sig, [])
            self.classes.append(cls)
        cls.instances.append(inst)
        self.class_of[n.path] = (cls, inst)

    def members(self, g: Graph) -> list[Member]:
        """The attributes of ``g``'s module; the block instances under it have their classes."""
        out: list[Member] = []
        for n in g.nodes:
            if n.shares is not None:
                continue  # calls the attribute of the module it shares
            if n.sub is not None:
                cls = None if n.sub.block == "repeat" else self.class_of[n.path][0].name
                out.append(Member(n.name, n, {}, cls))
            elif n.kind is not None and n.result is not None:
                self._need_support(n)
                if has_module(n.kind):
                    out.append(Member(n.name, n, constructor_args(g, n)))
        return out

    def _member_sig(self, m: Member) -> tuple:
        if m.node.sub is None:
            return (m.attr, m.node.type, tuple(m.args))
        if m.cls is not None:
            return (m.attr, m.cls, ())
        return (m.attr, "repeat", tuple(self._child_sig(c) for c in m.node.sub.nodes))

    def _child_sig(self, n: Node) -> Any:
        if n.sub is not None and n.sub.block != "repeat":
            # A repeat writes its children's constructors literally, so two instances of a
            # child class with equal block args but different inferred sizes (VGG's two
            # 512-wide stages, fed 256 and 512 channels) must not share the enclosing class.
            cls, inst = self.class_of[n.path]
            return cls.name, tuple(self._child_sig(m.node) if m.node.sub is not None else (m.attr, repr(m.args))
                                   for m in inst.members)
        if n.sub is not None:
            return tuple(self._child_sig(c) for c in n.sub.nodes)
        return self._leaf_init(n)

    def _need_support(self, n: Node) -> None:
        assert n.kind is not None and n.result is not None
        for code in support_texts(n.kind, n.result.args):
            self.support.setdefault(code.strip())

    def _leaf_init(self, n: Node) -> str:
        """The constructor of a layer inside a repeat, written literally."""
        assert n.kind is not None and n.result is not None
        self._need_support(n)
        init = init_expr(n.kind, n.result.args, lit)
        if init is None:
            raise EmitError(f"{n.type} '{n.path}' is an inline operation and cannot be repeated", n)
        return init

    def _fresh(self, base: str) -> str:
        k = 2
        while f"{base}{k}" in self.taken or f"{base}{k}" in self.block_names:
            k += 1
        return f"{base}{k}"

    # constructors -------------------------------------------------------------------------------
    def args_of(self, m: Member) -> dict[str, Any]:
        """A member's constructor arguments: a block instance's once its class's parameters are chosen."""
        return self.kwargs[m.node.path] if m.cls is not None else m.args

    def constructor(self, m: Member, args: dict[str, Any] | None = None) -> str | None:
        """``m``'s constructor, with ``args`` in place of its own (a class's parameters); None
        for an inline operation."""
        args = self.args_of(m) if args is None else args
        if m.cls is not None:
            return _call(m.cls, args)
        if m.node.sub is not None:
            return _container(m.node, [self._child_constructor(c) for c in m.node.sub.nodes])
        assert m.node.kind is not None
        return init_expr(m.node.kind, args, lit)

    def _child_constructor(self, n: Node) -> str:
        if n.sub is not None and n.sub.block != "repeat":
            cls, _ = self.class_of[n.path]
            return _call(cls.name, self.kwargs[n.path])
        if n.sub is not None:
            return _container(n, [self._child_constructor(c) for c in n.sub.nodes])
        return self._leaf_init(n)

    # records ------------------------------------------------------------------------------------
    def records(self) -> list[ClassRecord]:
        """Every block class, nested classes first (they were grouped first)."""
        return [self._record(c) for c in self.classes]

    def _record(self, c: BlockClass) -> ClassRecord:
        self._choose_params(c)
        first = c.instances[0]
        assert first.node.sub is not None
        n = len(c.instances)
        ins = first.node.sub.inputs
        given = (f"input {_shape_comment(next(iter(ins.values())))}" if len(ins) == 1 else
                 "inputs " + ", ".join(f"{k} {_shape_comment(t)}" for k, t in ins.items()))
        doc = [f"Block {c.block}, used {n} time{'s' if n > 1 else ''} (first: {first.node.path}, {given})."]
        # Shape comments only where every instance has the same shapes.
        shapes_of = [[s.shape for s in i.steps] for i in c.instances]
        same = all(sh == shapes_of[0] for sh in shapes_of)
        steps = [dataclasses.replace(s, shape=s.shape if same else "") for s in first.steps]
        params = [f"{ident(p, parameter=True)}: {c.annotations[p]}" for p in c.params]
        frozen = {m.attr for m in first.members
                  if all(not other.node.trainable for inst in c.instances for other in inst.members
                         if other.attr == m.attr)}
        norms = frozen_norms(first.members, frozen)
        self.uses_frozen_norms |= bool(norms)
        attributes = []
        for m in first.members:
            args = {k: _written(c.mapping[(m.attr, k)]) if (m.attr, k) in c.mapping else x
                    for k, x in self.args_of(m).items()}
            expr = self.constructor(m, args)
            if expr is not None:
                attributes.append(Attribute(ident(m.attr), expr, m.attr in frozen))
        return ClassRecord(c.name, doc, params, attributes, first.input_vars, steps, first.returns,
                           "torch.Tensor", after_init=tie_lines(first.node.sub), frozen_norms=norms)

    def attributes(self, members: list[Member]) -> list[Attribute]:
        """``__init__``'s attributes of the model itself, frozen where the spec says trainable: false."""
        out = []
        for m in members:
            expr = self.constructor(m)
            if expr is not None:
                out.append(Attribute(ident(m.attr), expr, not m.node.trainable))
        return out

    def _choose_params(self, c: BlockClass) -> None:
        """A constructor value becomes a class parameter only when it differs between the
        instances sharing the class. It is written, in order of preference, as the spec's own
        expression of the block arguments (``inp * expand``), as the block argument it equals,
        or as a parameter of its own; values that always move together share one expression."""
        keys = [(m.attr, k) for m in c.instances[0].members for k in self.args_of(m)]
        templates = {m.attr: m.node.template for m in c.instances[0].members}
        block_args = [inst.node.sub.block_args if inst.node.sub is not None else {} for inst in c.instances]
        arg_names = list(block_args[0])
        mapping: dict[tuple[str, str], str] = {}
        vectors: dict[str, list[Any]] = {}  # expression -> its value in each instance
        uses: dict[str, list[str]] = {}  # expression -> the parameters it reads
        own: dict[str, list[Any]] = {}  # parameters that are no block argument -> values
        for key in keys:
            vals = [self._arg(inst, key) for inst in c.instances]
            if all(_same(x, vals[0]) for x in vals[1:]):
                continue  # a constant of the class
            expr = _as_written(templates.get(key[0]), key[1], arg_names, block_args, vals, uses)
            if expr is None:  # an inferred size: the expression of the latest value that always equals it
                expr = next((e for e, vec in reversed(vectors.items()) if all(map(_same, vec, vals))), None)
            if expr is None:
                expr = next((a for a in arg_names if all(_same(ba.get(a), x) for ba, x in zip(block_args, vals))),
                            None)
                if expr is not None:
                    uses[expr] = [expr]
            if expr is None:
                attr, k = key
                expr = k if k not in vectors and k not in arg_names and k not in own else f"{attr}_{k}"
                uses[expr] = [expr]
                own[expr] = vals
            mapping[key] = expr
            vectors[expr] = vals
        used = {p for e in mapping.values() for p in uses[e]}
        c.mapping = mapping
        c.params = [a for a in arg_names if a in used] + [p for p in own if p in used]
        for i, inst in enumerate(c.instances):
            self.kwargs[inst.node.path] = {p: own[p][i] if p in own else block_args[i][p] for p in c.params}
        first = self.kwargs[c.instances[0].node.path]
        c.annotations = {p: _annotation(first[p]) for p in c.params}

    def _arg(self, inst: Instance, key: tuple[str, str]) -> Any:
        attr, k = key
        return next(self.args_of(m)[k] for m in inst.members if m.attr == attr)


def _container(n: Node, copies: list[str]) -> str:
    """A repeat's module: nn.Sequential chains one input; copies that also read others are an
    nn.ModuleList that forward loops over (the state-dict names are the same: ``stack.0.…``)."""
    if loops(n):
        return "nn.ModuleList([" + ", ".join(copies) + "])"
    return "nn.Sequential(" + ", ".join(copies) + ")"


def _call(cls: str, kwargs: dict[str, Any]) -> str:
    return f"{cls}({', '.join(f'{ident(k, parameter=True)}={lit(v)}' for k, v in kwargs.items())})"


def _as_written(template: Any, key: str, arg_names: list[str], block_args: list[dict[str, Any]],
                vals: list[Any], uses: dict[str, list[str]]) -> str | None:
    """The spec's ``${...}`` for this value when it is an expression of the block's
    arguments that gives the actual value in every instance."""
    raw = template.get(key) if isinstance(template, dict) else None
    m = re.fullmatch(r"\s*\$\{([^{}]*)\}\s*", raw) if isinstance(raw, str) else None
    source = python_source(m.group(1), set(arg_names)) if m else None
    if source is None or not source[1]:
        return None
    text, names = source
    try:
        if not all(_same(evaluate_expression(m.group(1), args, None), x) for args, x in zip(block_args, vals)):
            return None
    except SpecError:
        return None
    uses[text] = names
    return text


def _written(expr: str) -> Ref | Code:
    """A parameter name goes through the identifier check; an expression came from a whitelisted AST."""
    return Ref(expr) if expr.isidentifier() else Code(expr)


def _annotation(v: Any) -> str:
    if isinstance(v, tuple):
        return f"tuple[{type(v[0]).__name__}, ...]" if v else "tuple"
    return type(v).__name__


def _same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


def has_norm_stats(n: Node) -> bool:
    """Whether the layer (or any layer of the group) keeps running statistics (BatchNorm, InstanceNorm)."""
    if n.sub is not None:
        return any(has_norm_stats(c) for c in n.sub.leaves())
    return n.kind is not None and n.result is not None and n.result.buffers > 0 and \
        type(n.kind).__module__.endswith(".norm")


def frozen_norms(members: list[Member], frozen: set[str] | None = None) -> list[str]:
    """``self.<attr>`` of the frozen members (trainable: false) that hold normalisation statistics:
    the generated ``train()`` keeps them in eval mode, so a frozen BatchNorm stays frozen.
    ``frozen`` overrides the members' own flags in a block class, which serves instances that
    are frozen and instances that are not."""
    return [f"self.{ident(m.attr)}" for m in members
            if (m.attr in frozen if frozen is not None else not m.node.trainable) and has_norm_stats(m.node)]
