"""``optimizer: {no_decay: [...], param_groups: [...]}``: which parameters train with which settings.

PyTorch takes an optimizer's parameters as groups, each with its own lr, weight_decay and the
rest (BERT's ``no_decay = ["bias", "LayerNorm.weight"]``, timm's ``param_groups_weight_decay``,
a new head at 10x the backbone's lr). Here each group names its parameters by:

- a layer type (``LayerNorm``, Keras' ``Dense``), a block name, a layer path (``layer4``,
  ``encoder.layers.0``) or a glob over layer paths (``layer4.*``): every parameter of those
  layers, matched as ``init:`` matches (:mod:`specc.graph.init`, the same function); else a
  layer's own name (``query``) in every block instance, as ``lora: targets`` match;
- ``Type.param`` (``LayerNorm.weight``, ``Linear.bias``): that parameter of every layer of the type;
- ``bias``, ``norm`` or ``1d``: every bias (a parameter whose own name is ``bias``), every
  parameter of a normalisation layer (and the ``norm*`` parts of a TransformerEncoderLayer),
  every parameter of fewer than 2 dims (timm's and nanoGPT's rule: biases, norm scales);
- else a parameter's own name (``in_proj_bias``), its state-dict name (``head.weight``) or a
  glob over state-dict names (``*.bias``, ``blocks.1*``).

A parameter belongs to at most one of ``param_groups`` (V114: PyTorch refuses one in two groups,
and "first wins" would hide the overlap); what none names trains with the optimizer's own
settings. ``no_decay`` then splits every group, that rest included, into the parameters that
decay and those that train with weight_decay: 0. Frozen parameters (``trainable: false``, the base
weights under ``lora:``) are in no group; under ``lora:`` a group that names an adapted layer takes
its adapters (``lora_A``, ``lora_B``), and the adapters no group names train in the rest.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from ..diagnostics import Diagnostic, Location, yaml_flow
from ..layers import base as layers
from ..layers.catalogue import FAMILY_OF
from ..validate.errors import OPTIMIZER_KEYS
from .init import _PATTERN, _Assigner, _Entry, _Scope
from .ir import Graph, Node

if TYPE_CHECKING:
    from ..spec import Spec

# The words no layer or parameter is named: the rules every recipe writes.
RULES = {"bias": "every bias (in_proj_bias, bias_ih_l0 too)", "norm": "every parameter of a normalisation layer",
         "1d": "every parameter of fewer than 2 dims (biases, norm scales)"}
# Keys of a group that are not optimizer settings.
OWN_KEYS = ("params", "name")
# A parameter that torch.nn.utils.parametrize moved (LoRA, weight_norm): named as the spec names it.
_PARAMETRIZED = re.compile(r"\.parametrizations\.([^.]+)\.original\d*$")


@dataclass(frozen=True)
class Param:
    name: str  # state-dict name in the model
    own: str  # its name within its layer
    ndim: int
    node: Node
    trainable: bool


@dataclass
class Group:
    """One parameter group as the optimizer gets it: its name, the settings it overrides, and its
    parameters' state-dict names (the frozen ones left out)."""

    name: str
    options: dict[str, Any]
    params: list[str] = field(default_factory=list)
    frozen: int = 0  # parameters it names that do not train


@dataclass
class Plan:
    """The groups of the optimizer: ``groups`` list what the spec names; the rest of the trainable
    parameters form the first group, ``rest``, with the optimizer's own settings."""

    groups: list[Group]
    rest: Group


def parameters(spec: Spec) -> list[Param]:
    """Every parameter of the model, by its state-dict name, in the model's order (a tied weight
    is its owner's; ``use:`` owns none)."""
    from . import lora

    plan = lora.plan(spec)[0]
    full = {id(n) for n in plan.full} if plan is not None else set()
    out: list[Param] = []

    def walk(g: Graph, trainable: bool) -> None:
        for n in g.nodes:
            if n.shares is not None:
                continue
            on = trainable and n.trainable
            if n.sub is not None:
                walk(n.sub, on)
                continue
            if n.kind is None or n.result is None:
                continue
            trains = on and (plan is None or id(n) in full)
            for own, shape in n.kind.weights(n.result.args).items():
                if n.tie is not None and own == "weight":
                    continue
                out.append(Param(f"{n.path}.{own}", own, len(shape), n, trains))

    if spec.graph is not None:
        walk(spec.graph, True)
    # LoRA's adapters, by the names torch.nn.utils.parametrize gives them: a group that names an
    # adapted layer takes its adapters (its base weights are frozen)
    for t in plan.targets if plan is not None else []:
        for m in t.matrices:
            owner, _, weight = m.attr.rpartition(".")
            at = f"{owner}.parametrizations.{weight}.0" if owner else f"parametrizations.{weight}.0"
            out += [Param(f"{t.path}.{at}.{ab}", f"{at}.{ab}", 2, t.node, True) for ab in ("lora_A", "lora_B")]
    return out


def _blocks(g: Graph) -> set[str]:
    return {n.sub.block for _, n in g.walk() if n.sub is not None and n.sub.block not in (None, "repeat")}


class _Matcher:
    """What each name of ``no_decay`` or a group's ``params`` reaches."""

    def __init__(self, graph: Graph, params: list[Param]) -> None:
        self.graph = graph
        self.params = params
        self.by_node: dict[int, list[Param]] = {}
        for p in params:
            self.by_node.setdefault(id(p.node), []).append(p)
        self.assigner = _Assigner(_blocks(graph))
        self.types = {n.type for n in graph.leaves() if n.kind is not None}

    def layers(self, key: str) -> list[Node]:
        """The leaves a type, block, path or glob over paths reaches (init:'s matching)."""
        scope = _Scope("", [_Entry(key, None, None, "")])
        out: list[Node] = []

        def walk(g: Graph, inside: bool) -> None:
            for n in g.nodes:
                if n.shares is not None:
                    continue
                hit = inside or any(True for _ in self.assigner._matching(scope, n))
                if n.sub is not None:
                    walk(n.sub, hit)
                elif hit:
                    out.append(n)

        walk(self.graph, False)
        return out

    def match(self, key: str) -> list[Param]:
        if key == "bias":
            # MultiheadAttention's in_proj_bias and an LSTM's bias_ih_l0 are biases too
            return [p for p in self.params if "bias" in p.own.rsplit(".", 1)[-1].split("_")]
        if key == "1d":
            return [p for p in self.params if p.ndim < 2]
        if key == "norm":
            return [p for p in self.params if FAMILY_OF.get(p.node.type) == "norm"
                    or any(part.startswith("norm") for part in p.own.split(".")[:-1])]
        head, _, tail = key.partition(".")
        if tail and not _PATTERN & set(head) and layers.lookup(head) is not None:
            return [p for n in self.layers(head) for p in self.by_node.get(id(n), ())
                    if p.own == tail or (_PATTERN & set(tail) and fnmatchcase(p.own, tail))]
        reached = [p for n in self.layers(key) for p in self.by_node.get(id(n), ())]
        if not reached and "." not in key:
            # a layer's own name names it in every block instance and repeat, as lora: targets do
            from .lora import _matches

            reached = [p for n in _matches(self.graph, key) for leaf in ([n] if n.sub is None else n.sub.leaves())
                       for p in self.by_node.get(id(leaf), ())]
        if reached:
            return reached
        glob = bool(_PATTERN & set(key))
        return [p for p in self.params if p.name == key or ("." not in key and p.own == key)
                or (glob and fnmatchcase(p.name, key))]

    def unmatched(self, key: str, what: str, loc: Location | None, index: int) -> Diagnostic:
        """V113 for ``key``, entry ``index`` of its list, which picks no parameter."""
        head, _, tail = key.partition(".")
        kind = layers.lookup(head) if not _PATTERN & set(head) else None
        if kind is not None:
            shown = sorted(self.types)
            # BERT's LayerNorm.weight carried to a CNN: the model's own layers of that family
            kin = sorted(t for t in self.types if FAMILY_OF.get(t) == FAMILY_OF.get(kind.type_name))
            fix = f"{kin[0]}.{tail}" if kin and tail else kin[0] if kin else None
            return Diagnostic("V113", f"{what} names {key}, but no layer of the model is a {kind.type_name}"
                              + (f" with a parameter '{tail}'" if tail else ""), loc,
                              f"use {fix} for entry {index} (the model's {FAMILY_OF.get(kind.type_name)} layers "
                              f"are {', '.join(kin)})" if fix else
                              f"the layer types here: {', '.join(shown[:8])}{', …' if len(shown) > 8 else ''}")
        paths = [n.path for _, n in self.graph.walk()]
        owns = sorted({p.own for p in self.params})
        pool = [*RULES, *sorted(self.types), *owns, *paths, *(p.name for p in self.params)]
        guess = difflib.get_close_matches(key, pool, n=1)
        return Diagnostic("V113", f"{what} names '{key}', which is no parameter, layer type or layer of the model",
                          loc, f"did you mean '{guess[0]}'? (use {guess[0]} for entry {index})" if guess else
                          "name a layer type (LayerNorm), a layer's path (layer4), a parameter (head.weight, "
                          "*.bias), or bias, norm or 1d")


def _loc(spec: Spec, *path: Any) -> Location | None:
    return spec.locations.value(*path) or spec.locations.nearest(*path)


def plan(spec: Spec) -> tuple[Plan | None, list[Diagnostic]]:
    """The optimizer's groups, and the problems with them (V113-V115, T065, T066); None where the
    optimizer names no groups."""
    opt = spec.document.optimizer if spec.document is not None else None
    if opt is None or spec.graph is None or (not opt.no_decay and not opt.param_groups):
        return None, []
    params = parameters(spec)
    m = _Matcher(spec.graph, params)
    diags: list[Diagnostic] = []
    base = opt.model_dump(exclude={"no_decay", "param_groups"}, exclude_unset=True)
    named: list[tuple[str, dict[str, Any], list[Param]]] = []
    owner: dict[str, int] = {}
    for i, g in enumerate(opt.param_groups or []):
        where = ("optimizer", "param_groups", i)
        label = g.name or f"param_groups[{i}]"
        if g.name is not None and (g.name in ("rest", "no_decay") or g.name.endswith("/no_decay") or g.name in
                                   [h.name for h in opt.param_groups[:i]]):  # type: ignore[index]
            # the report and the optimizer's state name each group once: two alike are one row
            own = g.name in ("rest", "no_decay") or g.name.endswith("/no_decay")
            diags.append(Diagnostic("V115", f"param_groups[{i}] is named '{g.name}', a name "
                                    + ("specc gives the groups it makes (rest, no_decay, <group>/no_decay)" if own
                                       else "an earlier group has"),
                                    _loc(spec, *where, "name"), f"name it apart, e.g. name: group{i}"))
        options = _options(spec, opt, base, g, where, label, diags)
        found: list[Param] = []
        for j, key in enumerate(g.params):
            hits = m.match(key)
            if not hits:
                diags.append(m.unmatched(key, f"param_groups[{i}].params", _loc(spec, *where, "params", j), j))
            for p in hits:
                first = owner.setdefault(p.name, i)
                if first != i:
                    other = opt.param_groups[first].name or f"param_groups[{first}]"  # type: ignore[index]
                    diags.append(Diagnostic(
                        "V114", f"parameter {p.name} is in {other} and in {label} (its '{key}'); PyTorch's "
                        "optimizer takes a parameter in one group only", _loc(spec, *where, "params", j),
                        f"narrow '{key}' or {other}'s params so that each parameter is named once; to leave the "
                        "biases and norms of a group out of weight decay, name them in no_decay, which splits "
                        "every group"))
                    break
                if p not in found:
                    found.append(p)
        named.append((label, options, found))
    decay_off: set[str] = set()
    for j, key in enumerate(opt.no_decay or []):
        hits = m.match(key)
        if not hits:
            diags.append(m.unmatched(key, "no_decay", _loc(spec, "optimizer", "no_decay", j), j))
        decay_off |= {p.name for p in hits}
    if any(d.severity == "error" for d in diags):
        return None, diags
    if opt.no_decay and not getattr(opt, "weight_decay", 0) and not any(o.get("weight_decay") for _, o, _ in named):
        usual = "0.01" if opt.type in ("AdamW", "Adafactor") else "0.0001"
        diags.append(Diagnostic("T066", f"no_decay leaves its parameters out of weight decay, but optimizer "
                                f"{opt.type} has weight_decay: 0 and no group sets one, so nothing decays",
                                _loc(spec, "optimizer", "no_decay"),
                                f"set weight_decay: {usual} on the optimizer, or drop no_decay", "warning"))
    taken = {p.name for _, _, found in named for p in found}
    rest = [p for p in params if p.name not in taken]
    groups: list[Group] = []
    main = _group("rest", {}, rest, decay_off, groups)
    for i, (label, options, found) in enumerate(named):
        _group(label, options, found, decay_off, groups)
        if found and not any(p.trainable for p in found):
            diags.append(Diagnostic("T065", f"{label} names {len(found)} parameters, none of which trains "
                                    "(trainable: false, or the base weights under lora:), so its settings "
                                    "change nothing", _loc(spec, "optimizer", "param_groups", i),
                                    "name the layers that train in its params, or drop the group", "warning"))
    return Plan(groups, main), diags


def _group(label: str, options: dict[str, Any], found: list[Param], decay_off: set[str],
           out: list[Group]) -> Group:
    """Add the group ``label`` (and its part without weight decay, if no_decay takes some) to ``out``."""
    trains = [p.name for p in found if p.trainable]
    keep = Group(label, options, [n for n in trains if n not in decay_off], sum(not p.trainable for p in found))
    off = [n for n in trains if n in decay_off]
    if label != "rest":
        out.append(keep)
    if off:
        out.append(Group("no_decay" if label == "rest" else f"{label}/no_decay", {**options, "weight_decay": 0.0},
                         off))
    return keep


def _options(spec: Spec, opt: Any, base: dict[str, Any], g: Any, where: tuple[Any, ...], label: str,
             diags: list[Diagnostic]) -> dict[str, Any]:
    """The settings group ``g`` overrides, each checked as the optimizer's own (V115)."""
    from pydantic import ValidationError

    fields = type(opt).model_fields
    extra = dict(g.model_extra or {})
    options: dict[str, Any] = {}
    for key, value in extra.items():
        at = spec.locations.key(*where, key) or _loc(spec, *where)
        if key in ("type", "no_decay", "param_groups") or key not in fields:
            takes = [k for k in fields if k not in ("type", "no_decay", "param_groups")]
            guess = difflib.get_close_matches(key, takes, n=1)
            known = OPTIMIZER_KEYS.get(key) if key not in ("no_decay", "param_groups", "params") else None
            diags.append(Diagnostic("V115", f"{label} sets {key}, which optimizer {opt.type} does not take", at,
                                    f"did you mean '{guess[0]}'?" if guess else known or
                                    f"a group of {opt.type} sets {', '.join(takes)}, params and name"))
            continue
        try:
            checked = type(opt).model_validate({**base, "type": opt.type, key: value})
        except ValidationError as exc:
            err = exc.errors()[0]
            message = err.get("msg", "")
            diags.append(Diagnostic("V115", f"{label}'s {key}: {yaml_flow(value)} is not a valid {key} of "
                                    f"{opt.type} ({message})", _loc(spec, *where, key),
                                    f"write the group's {key} as its optimizer takes it (the optimizer's own is "
                                    f"{yaml_flow(getattr(opt, key))})"))
            continue
        options[key] = getattr(checked, key)
    return options


def state_name(name: str) -> str:
    """A parameter's name as the spec names it, where a parametrization moved it."""
    return _PARAMETRIZED.sub(r".\1", name)
