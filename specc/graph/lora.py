"""Where a spec's ``lora:`` adapters go: the target layers, their weight matrices, and the
parameters the adapters add.  Emission, the summary and the checks all read this one plan.

An adapter on a weight W of shape (out, in) adds A (rank × in) and B (out × rank), so
rank · (in + out) parameters.  A Linear has one such matrix, ``weight``.  A
MultiheadAttention has the query/key/value projection (``in_proj_weight``, packed as
(3E, E) when keys and values have the query's width, else ``q_proj_weight``,
``k_proj_weight`` and ``v_proj_weight``) and the output projection ``out_proj.weight``;
specc adapts all of them, as the LoRA paper's best setting (W_q, W_k, W_v, W_o) does.  With
``rotary:`` or ``num_kv_heads:`` the four are ``q_proj``, ``k_proj`` and ``v_proj`` (num_kv_heads ·
head_dim rows each) and ``o_proj``, as in PEFT's LLaMA targets.
A TransformerEncoderLayer is that attention plus its feed-forward ``linear1``/``linear2``;
a TransformerEncoder is ``num_layers`` of those under ``layers.<i>``: their projections are
not layers of the spec, so naming the encoder adapts all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..diagnostics import Diagnostic, Location
from ..layers.reparam import normalised
from .ir import Graph, Node

if TYPE_CHECKING:
    from ..spec import Spec
    from ..validate.document import Lora

LORA_TYPES = ("Linear", "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder")


@dataclass(frozen=True)
class Matrix:
    attr: str  # the weight's attribute path inside the layer's module: "weight", "out_proj.weight"
    out: int
    inp: int


@dataclass(frozen=True)
class Target:
    node: Node
    matrices: tuple[Matrix, ...]

    @property
    def path(self) -> str:
        return self.node.path

    def params(self, rank: int) -> int:
        return sum(rank * (m.out + m.inp) for m in self.matrices)


@dataclass
class Plan:
    rank: int
    alpha: float
    targets: list[Target]
    # Layers the spec marks trainable: true (on the layer or a block around it): LoRA freezes
    # the base model, but these train in full beside the adapters, as a new task's head must.
    full: list[Node] = field(default_factory=list)

    @property
    def full_params(self) -> int:
        return sum(n.result.params for n in self.full if n.result is not None)

    @property
    def trainable(self) -> int:
        return self.params + self.full_params

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    @property
    def params(self) -> int:
        return sum(t.params(self.rank) for t in self.targets)

    def of(self, node: Node) -> Target | None:
        return next((t for t in self.targets if t.node is node), None)


def adapted_type(node: Node) -> str:
    """The layer type whose weights an adapter on ``node`` changes: a TimeDistributed layer's
    module is the layer it wraps (the steps are folded into the batch around it)."""
    if node.type == "TimeDistributed" and node.result is not None:
        return str(node.result.args.get("layer"))
    return node.type


def matrices(node: Node) -> tuple[Matrix, ...]:
    assert node.result is not None
    a = node.result.args
    kind = adapted_type(node)
    if kind == "Linear":
        return (Matrix("weight", a["out_features"], a["in_features"]),)
    if kind == "MultiheadAttention" and "num_kv_heads" in a:  # rotary: or num_kv_heads:, LLaMA's projections
        kv_dim = a["num_kv_heads"] * (a["embed_dim"] // a["num_heads"])
        e = a["embed_dim"]
        return (Matrix("q_proj.weight", e, e), Matrix("k_proj.weight", kv_dim, a["kdim"] or e),
                Matrix("v_proj.weight", kv_dim, a["vdim"] or e), Matrix("o_proj.weight", e, e))
    if kind == "MultiheadAttention":
        return _attention(a["embed_dim"], a.get("kdim"), a.get("vdim"))
    e, f = a["d_model"], a["dim_feedforward"]
    layer = (*(Matrix(f"self_attn.{m.attr}", m.out, m.inp) for m in _attention(e, None, None)),
             Matrix("linear1.weight", f, e), Matrix("linear2.weight", e, f))
    if kind == "TransformerEncoderLayer":
        return layer
    return tuple(Matrix(f"layers.{i}.{m.attr}", m.out, m.inp) for i in range(a["num_layers"]) for m in layer)


def _attention(e: int, kdim: int | None, vdim: int | None) -> tuple[Matrix, ...]:
    if kdim is None and vdim is None:
        proj = (Matrix("in_proj_weight", 3 * e, e),)
    else:
        proj = (Matrix("q_proj_weight", e, e), Matrix("k_proj_weight", e, kdim or e),
                Matrix("v_proj_weight", e, vdim or e))
    return (*proj, Matrix("out_proj.weight", e, e))


def _matches(graph: Graph, name: str) -> list[Node]:
    """The layers a target names: a qualified path (enc.0.proj), or a layer's own name, which
    names it in every block instance and repeat that has it.  A repeat of one layer
    (``{type: Linear, repeat: 3, name: r}``) is that layer three times: its name names them all."""
    nodes = list(_own_modules(graph))
    found = [n for n in nodes if n.path == name] or [n for n in nodes if n.name == name]
    out: list[Node] = []
    for n in found:
        copies = _copies(n)
        out += copies if copies else [n]
    return out


def _own_modules(g: Graph) -> Iterator[Node]:
    """Every node with a module of its own: a ``use:`` item (and what it contains) calls another
    layer's module, whose adapter serves both calls."""
    for n in g.nodes:
        if n.shares is None:
            yield n
            if n.sub is not None:
                yield from _own_modules(n.sub)


def _copies(n: Node) -> list[Node]:
    """The copies of a repeated single layer, or [] when ``n`` is not such a repeat."""
    if n.type != "repeat" or n.sub is None or not n.sub.nodes:
        return []
    return n.sub.nodes if all(c.sub is None for c in n.sub.nodes) else []


def param_counts(params: int, trainable: int, lora: Plan | None) -> tuple[int, int, int]:
    """(parameters, trainable parameters, adapters' parameters) of a model of ``params`` (``trainable``
    of them) under ``lora``: the base model is frozen, its adapters train and the layers trained in full."""
    if lora is None:
        return params, trainable, 0
    return params + lora.params, lora.trainable, lora.params


def plan(spec: Spec) -> tuple[Plan | None, list[Diagnostic]]:
    """The adapters of ``spec`` and the problems with its targets (V030, V031)."""
    lora: Lora | None = spec.document.lora if spec.document is not None else None
    if lora is None or spec.graph is None:
        return None, []
    diags: list[Diagnostic] = []
    targets: list[Target] = []
    seen: set[int] = set()
    for i, name in enumerate(lora.targets):
        loc = _target_loc(spec, i)
        found = _matches(spec.graph, name)
        if not found:
            calls = next((n for _, n in spec.graph.walk() if n.shares is not None and name in (n.path, n.name)), None)
            if calls is not None:
                diags.append(Diagnostic("V030", f"lora target '{name}' calls '{calls.shares}' again (use:) and has "
                                        "no weights of its own", loc, f"adapt '{calls.shares}': both calls use its "
                                        "adapter"))
                continue
            diags.append(Diagnostic("V030", f"lora target '{name}' is not a layer of the model", loc,
                                    _suggest(spec.graph, name)))
            continue
        for n in found:
            if adapted_type(n) not in LORA_TYPES or n.result is None:
                diags.append(_not_adaptable(n, name, loc))
            elif normalised(n.result.args):
                diags.append(Diagnostic("V051", f"lora target '{name}': the weight of {n.path} has "
                                        f"{normalised(n.result.args)}, and an adapter would stack on its "
                                        "parametrization", loc, f"adapt another layer, or remove "
                                        f"{normalised(n.result.args)} from {n.path}", layer=n.path))
            elif id(n) not in seen:
                seen.add(id(n))
                targets.append(Target(n, matrices(n)))
    full = _trained_in_full(spec.graph)
    in_full = {id(n) for n in full}
    for i, name in enumerate(lora.targets):
        both = [t.path for t in targets if id(t.node) in in_full and name in (t.path, t.node.name)]
        if both:
            diags.append(Diagnostic("V033", f"lora target '{name}' is also marked trainable: true, so its weight "
                                    "would train in full and through its adapter at once", _target_loc(spec, i),
                                    f"remove trainable: true from '{both[0]}' or the block around it (its adapter "
                                    f"trains it), or remove '{name}' from targets to train it in full",
                                    layer=both[0]))
    result = Plan(lora.rank, lora.alpha, targets, full)
    return result, diags + _rank_above_useful(spec, result) + _scale_vanishes(spec, result)


def _trained_in_full(graph: Graph, inherited: bool = False) -> list[Node]:
    """The leaf layers whose item, or an enclosing block or repeat item, says trainable: true
    (and none says false: a frozen block stays frozen)."""
    out: list[Node] = []
    for n in graph.nodes:
        explicit = inherited or (isinstance(n.template, dict) and n.template.get("trainable") is True)
        if not n.trainable:
            continue
        if n.sub is not None:
            out += _trained_in_full(n.sub, explicit)
        elif explicit:
            out.append(n)
    return out


def _rank_above_useful(spec: Spec, p: Plan) -> list[Diagnostic]:
    """V032 (a warning) when the rank is above what any adapted weight can use: B·A of a weight
    (out x in) has rank at most min(in, out), so a lower rank gives the same updates with fewer
    parameters.  (A rank that is merely large for one small weight, such as a new 2-class head,
    is left alone: the rank is one for all targets.)"""
    useful = max((min(m.out, m.inp) for t in p.targets for m in t.matrices), default=0)
    if not p.targets or p.rank <= useful:
        return []
    loc = spec.locations.value("lora", "rank") if spec.locations.written("lora", "rank") else _target_loc(spec, 0)
    wasted = sum(max(0, p.rank - min(m.out, m.inp)) * (m.out + m.inp) for t in p.targets for m in t.matrices)
    return [Diagnostic("V032", f"lora rank {p.rank} is above {useful}, the highest rank an update of the adapted "
                       f"weights can have (it is at most min(in, out) of each weight), so {wasted:,} of the "
                       f"{p.params:,} adapter parameters add nothing", loc,
                       f"use rank: {useful} or lower (same updates, fewer parameters; alpha / rank sets the "
                       "step size, so scale alpha with it)", severity="warning")]


# alpha / rank below this makes each adapter step a small fraction of the lr: the published recipes
# use 0.25 (QLoRA's alpha 16 at rank 64) to 2 (alpha 16 at rank 8), PEFT's default 1.
LOWEST_SCALE = 1 / 16


def _scale_vanishes(spec: Spec, p: Plan) -> list[Diagnostic]:
    """V160 (a warning) when alpha / rank scales the adapters' updates to almost nothing: alpha
    written as if it were the scale itself (alpha: 1 at rank 64). B starts at zero and an adaptive
    optimizer moves it by about lr per step whatever its gradient, so W + (alpha / rank) B·A moves
    rank / alpha times slower than at a scale of 1 (under SGD the gradient is scaled too, slower
    still): the fine-tune ends near the base model, with no error."""
    if not p.targets or p.alpha / p.rank >= LOWEST_SCALE:
        return []
    written = spec.locations.written("lora", "alpha")
    loc = spec.locations.value("lora", "alpha") if written else (
        spec.locations.value("lora", "rank") if spec.locations.written("lora", "rank") else _target_loc(spec, 0))
    slower = p.rank / p.alpha
    return [Diagnostic("V160", f"lora alpha {p.alpha:g}{'' if written else ' (the default)'} at rank {p.rank} scales "
                       f"every adapter update by alpha / rank = {p.alpha / p.rank:.3g}: the adapters start at zero "
                       f"and the optimizer moves them about lr per step, so the adapted weights change {slower:.3g} "
                       "times slower than at a scale of 1 and the fine-tune stays near the base model",
                       loc, f"set alpha: {p.rank} (alpha = rank, a scale of 1; published recipes use 0.25 to 2, "
                       "such as alpha 16 at rank 8)", severity="warning")]


def _not_adaptable(n: Node, name: str, loc: Location | None) -> Diagnostic:
    kinds = "Linear, MultiheadAttention or TransformerEncoder(Layer)"
    if n.sub is not None:
        inside = [x.path for x in n.sub.leaves() if adapted_type(x) in LORA_TYPES]
        hint = (f"name the layers inside it instead, e.g. {', '.join(inside[:4])}" if inside else
                f"it holds no {kinds} layer; adapters go only on those")
        what = "a repeat" if n.type == "repeat" else f"a {n.type} block"
    else:
        hint = (f"adapters go on the weights of {kinds} layers; name those, or train this layer in full "
                "(trainable: true) or freeze it (trainable: false)")
        what = f"a {n.type}" if n.type == adapted_type(n) else f"a {n.type} of {adapted_type(n)}"
    return Diagnostic("V031", f"lora target '{name}' is {what}, not a {kinds} layer", loc, hint, layer=n.path)


def _target_loc(spec: Spec, i: int) -> Location | None:
    at = spec.locations
    if not at.mapping("lora"):
        return None
    return at.value("lora", "targets", i) if at.written("lora", "targets", i) else at.value("lora", "targets")


def _suggest(graph: Graph, name: str) -> str:
    import difflib

    names = [n.path for n in graph.leaves() if adapted_type(n) in LORA_TYPES]
    # A weight or submodule path (fc1.weight, attn.out_proj): the adapters are chosen per layer.
    owner = next((p for p in names if name.startswith(p + ".")), None)
    if owner is not None:
        return f"name the layer, '{owner}': targets are layers, and specc adapts the weights listed in docs/spec.md"
    guess = difflib.get_close_matches(name, names, n=1)
    if guess:
        return f"did you mean '{guess[0]}'?"
    if names:
        return f"the layers that take adapters are: {', '.join(names[:6])}"
    return "the model has no Linear, MultiheadAttention or TransformerEncoder(Layer) layer to adapt"
