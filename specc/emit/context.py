"""Template context for the generated PyTorch module. All the logic of emission is here;
the templates only print what this computes.

Every layer becomes a named attribute in ``__init__`` (its kind's ``torch_init``) and a
line in ``forward`` (its kind's ``torch_forward``), commented with the shape it
produces.  Each ``block`` becomes one class: instances whose structure is the same
share it, and the constructor values that differ between instances become the class's
parameters (named after the block argument they equal, when there is one).
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..diagnostics import SpecError
from ..graph.ir import Graph, Node
from ..graph.lora import Plan, plan
from ..load.expr import evaluate_expression, python_source
from ..shapes.dims import fmt_shape
from ..shapes.tensor import TensorType
from ..targets.torch.lower import forward_expr, has_module, init_expr, support_texts
from ..validate.document import MIN_TORCH
from ..version import __version__
from .quote import Code, Ref, UnsafeValue, comment, docstring, ident, lit

if TYPE_CHECKING:
    from ..pipeline import Spec

# Variable names of generated forward(): the first candidate that no layer or input of
# that graph is called (a layer named `x` keeps its name; the chain variable moves over).
CHAIN_NAMES = ("x", "h", "y", "z", "out", "hidden")
BLOCK_INPUT_NAMES = ("x", "inp", "x_in", "block_input")
BLOCK_CHAIN_NAMES = ("out", "h", "y", "z", "hidden", "block_out")


def free_name(candidates: tuple[str, ...], taken: set[str]) -> str:
    name = next((c for c in candidates if c not in taken), None)
    if name is None:  # every candidate is a layer name: derive one nobody used
        name = candidates[0]
        while name in taken:
            name += "_"
    return name


def graph_names(g: Graph) -> set[str]:
    return {n.name for n in g.nodes} | set(g.inputs)


class EmitError(Exception):
    """A spec that is valid but cannot be written as PyTorch (a located, user-facing problem)."""

    def __init__(self, message: str, node: Node | None = None):
        super().__init__(message)
        self.node = node


@dataclass
class Item:
    """One attribute of a module: a layer, a block instance or a repeat (nn.Sequential)."""

    attr: str
    node: Node
    args: dict[str, Any]  # constructor arguments; Ref values are class parameters
    cls: str | None = None  # block class name, for a block instance
    seq: list[str] = field(default_factory=list)  # child constructors, for a repeat

    def init_expr(self) -> str | None:
        if self.cls is not None:
            return f"{self.cls}({', '.join(f'{ident(k, parameter=True)}={lit(v)}' for k, v in self.args.items())})"
        if self.node.sub is not None:  # repeat
            return "nn.Sequential(" + ", ".join(self.seq) + ")"
        assert self.node.kind is not None
        return init_expr(self.node.kind, self.args, lit)


@dataclass
class Step:
    target: str
    expr: str
    shape: str


@dataclass
class ClassCtx:
    name: str
    doc: list[str]
    params: list[str]
    inits: list[tuple[str, str, bool]]  # (attr, constructor, frozen)
    args: list[str]
    steps: list[Step]
    returns: list[str]
    return_type: str
    after_init: list[str] = field(default_factory=list)  # statements after the layers (LoRA adapters)
    frozen_norms: list[str] = field(default_factory=list)  # frozen modules whose norm statistics stay fixed


@dataclass
class ModuleCtx:
    header: list[str]
    description: list[str]
    support: list[str]
    classes: list[ClassCtx]
    model: str
    input_shapes: list[tuple[str, str, str]]  # (name, shape literal, dtype)
    output_shapes: list[tuple[str, str]]
    loss: str | None
    optimizer: str | None
    scheduler: str | None
    scheduler_interval: str
    scheduler_setup: list[str] = field(default_factory=list)  # statements before `return scheduler`
    optimizer_since: tuple[str, str] | None = None  # (class, first torch version) for a newer optimizer
    training_support: set[str] = field(default_factory=set)  # support code of templates/training_support


# -- values ---------------------------------------------------------------------------------------

def _shape_comment(t: TensorType | None) -> str:
    return fmt_shape(t.shape) if t is not None else ""


def _shape_literal(t: TensorType) -> str:
    return lit(tuple(d if isinstance(d, int) else str(d) for d in t.shape))


# -- forward ----------------------------------------------------------------------------------------

def _expr(node: Node, ins: list[str]) -> str:
    if node.sub is not None:
        return f"self.{node.name}({', '.join(ins)})"
    assert node.kind is not None and node.result is not None
    module = f"self.{node.name}" if has_module(node.kind) else ""
    return forward_expr(node.kind, module, ins, node.result.args)


def forward_steps(g: Graph, input_vars: dict[str, str], chain: str,
                  outputs: list[str]) -> tuple[list[Step], list[str]]:
    """Forward lines; a value is kept in a variable named after its layer only when
    something other than the very next layer (or the return) reads it."""
    readers: dict[str, set[int]] = {}
    for i, n in enumerate(g.nodes):
        for s in n.inputs:
            readers.setdefault(s, set()).add(i)
    var = dict(input_vars)
    steps: list[Step] = []
    last = len(g.nodes) - 1
    for i, n in enumerate(g.nodes):
        ins = [var[s] for s in n.inputs]
        used_by = readers.get(n.name, set())
        sole_final_output = outputs == [n.name] and i == last
        if sole_final_output or (n.name not in outputs and used_by <= {i + 1}):
            target = chain
        else:
            # A layer may be called `filter`; its forward variable must not shadow the builtin.
            target = ident(n.name) + ("_" if n.name in dir(builtins) else "")
        var[n.name] = target
        steps.append(Step(target, _expr(n, ins), _shape_comment(n.out)))
    return steps, [var[o] for o in outputs]


# -- classes ------------------------------------------------------------------------------------------

@dataclass
class Instance:
    node: Node
    items: list[Item]
    steps: list[Step]
    returns: list[str]
    input_var: str = "x"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Variant:
    """One class: the block instances that share a structure."""

    block: str
    cls: str
    sig: tuple
    instances: list[Instance] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    mapping: dict[tuple[str, str], str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


class _Emitter:
    """Two passes: collect every block instance and group them by structure, then choose
    each class's parameters from what actually differs between its instances."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.variants: list[Variant] = []
        self.instance: dict[int, tuple[Variant, Instance]] = {}  # id(node) ->
        self.support: dict[str, str] = {}
        self.taken = {spec.name}
        self.uses_frozen_norms = False

    # pass 1 ------------------------------------------------------------------------------------
    def collect(self, g: Graph) -> None:
        for n in g.nodes:
            if n.sub is None:
                continue
            self.collect(n.sub)
            if n.sub.block != "repeat":
                self._register(n)

    def _register(self, n: Node) -> None:
        assert n.sub is not None and n.sub.block is not None
        items = self.items(n.sub)
        taken = graph_names(n.sub)
        block_input = free_name(BLOCK_INPUT_NAMES, taken)
        chain = free_name(BLOCK_CHAIN_NAMES, taken | {block_input})
        steps, returns = forward_steps(n.sub, {"input": block_input}, chain, [s for _, s in n.sub.outputs])
        # Layers frozen by the block itself (trainable: false inside it) are frozen in the class;
        # instances that differ in that need classes of their own.  A frozen instance is frozen
        # where it is used, so it takes no part in this.
        own_frozen = tuple(n.trainable and not i.node.trainable for i in items)
        sig = (tuple(self._item_sig(i) for i in items), tuple((s.target, s.expr) for s in steps), tuple(returns),
               own_frozen)
        inst = Instance(n, items, steps, returns, input_var=block_input)
        for v in self.variants:
            if v.block == n.sub.block and v.sig == sig:
                v.instances.append(inst)
                break
        else:
            cls = n.sub.block if n.sub.block not in self.taken else self._fresh(n.sub.block)
            self.taken.add(cls)
            v = Variant(n.sub.block, cls, sig, [inst])
            self.variants.append(v)
        self.instance[id(n)] = (v, inst)

    def _item_sig(self, it: Item) -> tuple:
        if it.node.sub is not None:
            return (it.attr, "repeat" if it.cls is None else self.instance[id(it.node)][0].cls,
                    tuple(self._child_sig(c) for c in it.node.sub.nodes) if it.cls is None else ())
        return (it.attr, it.node.type, tuple(it.args))

    def _child_sig(self, n: Node) -> Any:
        if n.sub is not None and n.sub.block != "repeat":
            # A repeat writes its children's constructors literally, so two instances of a
            # child class with equal block args but different inferred sizes (VGG's two
            # 512-wide stages, fed 256 and 512 channels) must not share the enclosing class.
            v, inst = self.instance[id(n)]
            return v.cls, tuple(self._child_sig(it.node) if it.node.sub is not None else (it.attr, repr(it.args))
                                for it in inst.items)
        if n.sub is not None:
            return tuple(self._child_sig(c) for c in n.sub.nodes)
        return self._leaf_init(n)

    def items(self, g: Graph) -> list[Item]:
        out: list[Item] = []
        for n in g.nodes:
            if n.sub is not None:
                cls = None if n.sub.block == "repeat" else "?"  # resolved in pass 2
                out.append(Item(n.name, n, {}, cls=cls))
            elif n.kind is not None and n.result is not None:
                for code in support_texts(n.kind, n.result.args):
                    self.support.setdefault(code.strip(), code.strip())
                if has_module(n.kind):
                    args = dict(n.result.args)
                    if args.get("inplace") and _shared(g, n):
                        args["inplace"] = False  # writing over a value that is read again changes the result
                    out.append(Item(n.name, n, args))
        return out

    def _leaf_init(self, n: Node) -> str:
        assert n.kind is not None and n.result is not None
        for code in support_texts(n.kind, n.result.args):
            self.support.setdefault(code.strip(), code.strip())
        init = init_expr(n.kind, n.result.args, lit)
        if init is None:
            raise EmitError(f"{n.type} '{n.path}' is an inline operation and cannot be repeated", n)
        return init

    # pass 2 ------------------------------------------------------------------------------------
    def resolve(self, items: list[Item]) -> None:
        """Fill block-instance kwargs and repeat children, now that every class is known."""
        for it in items:
            if it.node.sub is None:
                continue
            if it.cls is not None:
                v, inst = self.instance[id(it.node)]
                it.cls, it.args = v.cls, dict(inst.kwargs)
            else:
                it.seq = [self._child_expr(c) for c in it.node.sub.nodes]

    def _child_expr(self, n: Node) -> str:
        if n.sub is not None and n.sub.block != "repeat":
            v, inst = self.instance[id(n)]
            return f"{v.cls}({', '.join(f'{ident(k, parameter=True)}={lit(x)}' for k, x in inst.kwargs.items())})"
        if n.sub is not None:
            return "nn.Sequential(" + ", ".join(self._child_expr(c) for c in n.sub.nodes) + ")"
        return self._leaf_init(n)

    def finish(self) -> list[ClassCtx]:
        classes: list[ClassCtx] = []
        for v in self.variants:  # nested blocks were registered before the blocks using them
            for inst in v.instances:
                self.resolve(inst.items)
            self._choose_params(v)
            first = v.instances[0]
            template = [Item(it.attr, it.node,
                             {k: _written(v.mapping[(it.attr, k)]) if (it.attr, k) in v.mapping else x
                              for k, x in it.args.items()}, cls=it.cls, seq=it.seq)
                        for it in first.items]
            assert first.node.sub is not None
            doc = [f"Block {v.block}, used {len(v.instances)} time{'s' if len(v.instances) > 1 else ''} "
                   f"(first: {first.node.path}, input {_shape_comment(first.node.sub.inputs['input'])})."]
            # Shape comments only where every instance has the same shapes.
            shapes_of = [[s.shape for s in i.steps] for i in v.instances]
            same = all(sh == shapes_of[0] for sh in shapes_of)
            steps = [Step(s.target, s.expr, s.shape if same else "") for s in first.steps]
            params = [f"{ident(p, parameter=True)}: {v.annotations[p]}" for p in v.params]
            frozen = {it.attr for it in first.items
                      if all(not other.node.trainable for inst in v.instances for other in inst.items
                             if other.attr == it.attr)}
            norms = _frozen_norms(first.items, frozen)
            self.uses_frozen_norms |= bool(norms)
            classes.append(ClassCtx(v.cls, doc, params, _inits(template, frozen), [first.input_var], steps,
                                    first.returns, "torch.Tensor", frozen_norms=norms))
        return classes

    def _choose_params(self, v: Variant) -> None:
        """A constructor value becomes a class parameter only when it differs between the
        instances sharing the class. It is written, in order of preference, as the spec's own
        expression of the block arguments (``inp * expand``), as the block argument it equals,
        or as a parameter of its own; values that always move together share one expression."""
        keys = [(it.attr, k) for it in v.instances[0].items for k in it.args]
        templates = {it.attr: it.node.template for it in v.instances[0].items}
        block_args = [inst.node.sub.block_args if inst.node.sub is not None else {} for inst in v.instances]
        arg_names = list(block_args[0])
        mapping: dict[tuple[str, str], str] = {}
        vectors: dict[str, list[Any]] = {}  # expression -> its value in each instance
        uses: dict[str, list[str]] = {}  # expression -> the parameters it reads
        own: dict[str, list[Any]] = {}  # parameters that are no block argument -> values
        for key in keys:
            vals = [self._arg(inst, key) for inst in v.instances]
            if all(_same(x, vals[0]) for x in vals[1:]):
                continue  # a constant of the class
            expr = self._as_written(templates.get(key[0]), key[1], arg_names, block_args, vals, uses)
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
        v.mapping = mapping
        v.params = [a for a in arg_names if a in used] + [p for p in own if p in used]
        for i, inst in enumerate(v.instances):
            inst.kwargs = {p: own[p][i] if p in own else block_args[i][p] for p in v.params}
        v.annotations = {p: _annotation(v.instances[0].kwargs[p]) for p in v.params}

    @staticmethod
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

    @staticmethod
    def _arg(inst: Instance, key: tuple[str, str]) -> Any:
        attr, k = key
        return next(it.args[k] for it in inst.items if it.attr == attr)

    def _fresh(self, base: str) -> str:
        k = 2
        while f"{base}{k}" in self.taken:
            k += 1
        return f"{base}{k}"


def _shared(g: Graph, n: Node) -> bool:
    """Whether ``n``'s input is also read elsewhere: by another layer, as an output, or outside
    this graph (a model input, or a block's input that the enclosing graph may read again).
    Through views: writing over a transpose or a slice writes over what it was taken from."""
    src = n.inputs[0] if n.inputs else None
    if src is None or src in g.inputs or src in (s for _, s in g.outputs):
        return True
    if any(src in m.inputs for m in g.nodes if m is not n):
        return True
    producer = g.node(src)
    aliases = producer is not None and producer.kind is not None and producer.result is not None and (
        producer.kind.may_alias or producer.result.args.get("inplace") is True)
    return bool(aliases and producer is not None and _shared(g, producer))


def _written(expr: str) -> Ref | Code:
    """A parameter name goes through the identifier check; an expression came from a whitelisted AST."""
    return Ref(expr) if expr.isidentifier() else Code(expr)


def _annotation(v: Any) -> str:
    if isinstance(v, tuple):
        return f"tuple[{type(v[0]).__name__}, ...]" if v else "tuple"
    return type(v).__name__


def _same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


def _has_norm_stats(n: Node) -> bool:
    """Whether the layer (or any layer of the group) keeps running statistics (BatchNorm, InstanceNorm)."""
    if n.sub is not None:
        return any(_has_norm_stats(c) for c in n.sub.leaves())
    return n.kind is not None and n.result is not None and n.result.buffers > 0 and \
        type(n.kind).__module__.endswith(".norm")


def _frozen_norms(items: list[Item], frozen: set[str] | None = None) -> list[str]:
    """``self.<attr>`` of the frozen items (trainable: false) that hold normalisation statistics:
    the generated ``train()`` keeps them in eval mode, so a frozen BatchNorm stays frozen."""
    return [f"self.{ident(it.attr)}" for it in items
            if (it.attr in frozen if frozen is not None else not it.node.trainable) and _has_norm_stats(it.node)]


def _inits(items: list[Item], frozen: set[str] | None = None) -> list[tuple[str, str, bool]]:
    """(attribute, constructor, frozen) for ``__init__``; ``frozen`` overrides the items' own
    flags in a block class, which serves instances that are frozen and instances that are not."""
    out = []
    for it in items:
        expr = it.init_expr()
        if expr is not None:
            out.append((ident(it.attr), expr, it.attr in frozen if frozen is not None else not it.node.trainable))
    return out


# -- sections -------------------------------------------------------------------------------------------

def _call(qualname: str, fields: dict[str, Any], lead: str = "") -> str:
    parts = [lead] if lead else []
    for k, v in fields.items():
        if k in ("weight", "pos_weight") and v is not None:
            parts.append(f"{k}=torch.tensor({lit(v)})")
        else:
            parts.append(f"{k}={lit(v)}")
    return f"{qualname}({', '.join(parts)})"


# Defaults specc chooses differently from PyTorch: written out even when the spec leaves
# them alone (PyTorch's KLDivLoss "mean" is not the KL divergence and warns).
DEFAULTS_UNLIKE_PYTORCH = {"KLDivLoss": ("reduction",)}
# Arguments that come from the training run rather than the spec: names in build_scheduler.
RUN_ARGUMENTS = {"OneCycleLR": {"epochs": Ref("epochs"), "steps_per_epoch": Ref("steps_per_epoch")}}


# specc's own keys of a section, which are not arguments of the PyTorch class.
SPECC_KEYS = {"interval", "warmup", "class_dim", "from_logits", "mode"}


def _section(model: Any, prefix: str, lead: str = "") -> str | None:
    if model is None:
        return None
    fields = model.model_dump(exclude={"type", *SPECC_KEYS}, exclude_defaults=True)
    for k in DEFAULTS_UNLIKE_PYTORCH.get(model.type, ()):
        fields.setdefault(k, getattr(model, k))
    fields.update(RUN_ARGUMENTS.get(model.type, {}))
    return _call(f"{prefix}.{model.type}", fields, lead)


def _loss(loss: Any, out: TensorType | None, support: set[str]) -> str:
    """build_loss()'s expression: PyTorch's loss, or specc's FocalLoss, wrapped when the
    classes are not at dim 1 (ClassesAt) or the model returns logits to KLDivLoss (FromLogits)."""
    from ..validate.training import class_dim, classification, focal_mode

    if loss.type == "FocalLoss":
        support.add("FocalLoss")
        binary = out is not None and focal_mode(loss, out) == "binary"
        fields = loss.model_dump(include={"gamma", "alpha", "reduction", "ignore_index"}, exclude_defaults=True)
        expr = f"FocalLoss({', '.join(f'{k}={lit(v)}' for k, v in {**fields, 'binary': binary}.items())})"
    else:
        expr = _section(loss, "nn") or ""
    if loss.type == "KLDivLoss" and loss.from_logits:
        support.add("FromLogits")
        return f"FromLogits({expr}, dim={lit(loss.class_dim)})"
    if out is not None and classification(loss, out) and class_dim(loss, out) not in (None, 1):
        support.add("ClassesAt")
        return f"ClassesAt({expr}, dim={lit(loss.class_dim)})"
    return expr


def _plain(loss: Any) -> Any:
    """A per-output loss as the single form writes it: its number ``weight`` weighs the term in
    MultiLoss, so only a list ``weight`` (class weights) reaches PyTorch's loss."""
    from ..validate.document import class_weights

    data = loss.model_dump(exclude={"weight"})
    if class_weights(loss) is not None:
        data["weight"] = class_weights(loss)
    return type(loss).__mro__[1].model_validate(data)


def _multi_loss(losses: dict[str, Any], outs: dict[str, TensorType | None], support: set[str]) -> str:
    """build_loss()'s MultiLoss: one loss per output, and the weight of each term in the sum."""
    from ..validate.document import term_weight

    support.add("MultiLoss")
    terms = ", ".join(f"{lit(n)}: {_loss(_plain(loss), outs.get(n), support)}" for n, loss in losses.items())
    weights = ", ".join(f"{lit(n)}: {lit(term_weight(loss))}" for n, loss in losses.items())
    return f"MultiLoss({{{terms}}}, weights={{{weights}}})"


def _scheduler(sched: Any) -> tuple[list[str], str]:
    """(setup statements, returned expression) of build_scheduler(); a warmup is a LinearLR
    that SequentialLR runs first, for as many scheduler steps as the warmup lasts."""
    main = _section(sched, "torch.optim.lr_scheduler", "optimizer") or ""
    w = sched.warmup
    if w is None:
        return [], main
    length = w.epochs if sched.interval == "epoch" else w.steps
    warmup = _call("torch.optim.lr_scheduler.LinearLR", {"start_factor": w.start_factor, "total_iters": length},
                   "optimizer")
    return ([f"warmup = {warmup}", f"main = {main}"],
            f"torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, main], milestones={lit([length])})")


def _path_expr(path: str) -> str:
    """``stack.0.fc`` -> ``self.stack[0].fc``: a layer's module, reached from the model."""
    return "self" + "".join(f"[{p}]" if p.isdigit() else f".{ident(p)}" for p in path.split("."))


def _lora_lines(lora: Plan | None, support: set[str]) -> list[str]:
    """``__init__``'s closing lines: freeze the base model, then one add_lora per adapted weight."""
    if lora is None or not lora.targets:
        return []
    support.add("LoRA")
    lines = [f"# LoRA, rank {lora.rank} and alpha {lit(lora.alpha)}: the base weights are frozen, only the "
             "adapters train" + ("," if lora.full else ".")]
    if lora.full:
        lines.append("# and the layers marked trainable: true, which train in full.")
    lines.append("self.requires_grad_(False)")
    lines += [f"{_path_expr(n.path)}.requires_grad_(True)  # trainable: true: trained in full" for n in lora.full]
    for t in lora.targets:
        for m in t.matrices:
            owner, _, name = m.attr.rpartition(".")
            module = _path_expr(f"{t.path}.{owner}" if owner else t.path)
            lines.append(f"add_lora({module}, {lit(name)}, rank={lit(lora.rank)}, alpha={lit(lora.alpha)})")
    return lines


def module_context(spec: Spec) -> ModuleCtx:
    g = spec.graph
    if g is None or not spec.ok:
        raise EmitError("the spec has errors; run `specc check` first")
    em = _Emitter(spec)
    try:
        model = ident(spec.name)
    except UnsafeValue as exc:
        raise EmitError(f"model name: {exc}") from None
    em.collect(g)
    items = em.items(g)
    classes = em.finish()
    em.resolve(items)
    input_vars = {name: ident(name) for name in g.inputs}
    outputs = [src for _, src in g.outputs]
    steps, returns = forward_steps(g, input_vars, free_name(CHAIN_NAMES, graph_names(g)), outputs)
    params, trainable, _, _ = g.totals()
    d = spec.document
    support: set[str] = set()
    lora = plan(spec)[0]
    lora_lines = _lora_lines(lora, support)
    if lora is not None and lora_lines:
        params, trainable = params + lora.params, lora.trainable
    doc = [f"{spec.name}, generated from {docstring(spec.path)}.", "", "Inputs:"]
    doc += [f"    {n}: {_shape_comment(t)} {t.dtype}" for n, t in g.inputs.items()]
    doc += ["Outputs:"] + [f"    {n}: {_shape_comment(g.value(s))}" for n, s in g.outputs]
    doc += ["", f"Parameters: {params:,} ({trainable:,} trainable)."]
    # With LoRA the whole base model is frozen, its normalisation statistics too, but for the
    # layers trained in full.
    norms = _frozen_norms(items)
    if lora is not None and lora_lines:
        full = {id(n) for n in lora.full}
        held = [n for n in g.leaves() if id(n) not in full and _has_norm_stats(n)]
        norms = ["self"] if held and not full else [_path_expr(n.path) for n in held]
    if norms or em.uses_frozen_norms:
        support.add("freeze_norm_stats")
    classes.append(ClassCtx(model, doc, [], _inits(items), list(input_vars.values()), steps, returns,
                               "torch.Tensor" if len(returns) == 1 else
                               f"tuple[{', '.join(['torch.Tensor'] * len(returns))}]",
                            after_init=lora_lines, frozen_norms=norms))
    sched = d.scheduler if d else None
    setup, sched_expr = _scheduler(sched) if sched else ([], None)
    main_out = g.value(g.outputs[0][1]) if g.outputs else None
    opt = d.optimizer if d else None
    header = [
        f"Generated by specc {__version__} from {comment(repr(spec.path))}; do not edit by hand.",
        f"Regenerate with: specc compile {comment(spec.path)}",
        f"Spec sha256: {spec.sha256}",
    ]
    desc = [comment(line) for line in (d.description or "").splitlines()] if d else []
    return ModuleCtx(
        header=header, description=[x for x in desc if x], support=list(em.support.values()), classes=classes,
        model=model,
        input_shapes=[(n, _shape_literal(t), t.dtype) for n, t in g.inputs.items()],
        output_shapes=[(n, _shape_literal(g.value(s))) for n, s in g.outputs if g.value(s) is not None],
        loss=(_multi_loss(d.loss, {n: g.value(src) for n, src in g.outputs}, support) if d and isinstance(d.loss, dict)
              else _loss(d.loss, main_out, support) if d and d.loss else None),
        optimizer=_section(opt, "torch.optim", "params"),
        scheduler=sched_expr,
        scheduler_interval=sched.interval if sched else "epoch",
        scheduler_setup=setup,
        optimizer_since=(opt.type, MIN_TORCH[opt.type]) if opt is not None and opt.type in MIN_TORCH else None,
        training_support=support,
    )
