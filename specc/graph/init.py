"""``init:``: which initialiser each parameter starts from, decided once for both targets.

Three places say it, the nearest winning: a layer's own ``init:`` (parameter name or pattern ->
initialiser), a block instance's ``init:`` (layer type, block name or path inside it -> what its
layers take), and the model's top-level ``init:`` (the same, for the whole model: torchvision's
and Hugging Face's ``_init_weights`` loops over module types). Within one mapping a path beats
a layer type, and a parameter's exact name beats a pattern. The result is ``Node.init`` of each
leaf (state-dict name within the layer -> :class:`~specc.layers.init.Initializer`); a parameter
no ``init:`` names keeps PyTorch's default. Mistakes are V091 (a name that matches nothing),
V092/V093 (the initialiser), V094 (fans of a 1-d tensor) and V095 (a weight that is not the
layer's own to set).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from ..diagnostics import Diagnostic, Location, SpecError, yaml_flow
from ..layers import base as layers
from ..layers.init import NEEDS_FANS, Initializer, parse
from .ir import Graph, Node

_PATTERN = set("*?[")
# Kinds whose PyTorch module holds Linear or LayerNorm modules of its own (which a type entry
# for Linear does not reach), and the parameter pattern that names them under the kind.
_HOLDS_INSIDE = {"Linear": ("MixtureOfExperts", "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
                            "TransformerDecoderLayer", "TransformerDecoder"),
                 "LayerNorm": ("TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
                               "TransformerDecoder")}
def _inner_pattern(holder: str, type_name: str) -> str:
    if type_name == "LayerNorm":
        return '"*norm*.weight": ones'
    if holder == "MixtureOfExperts":  # the router and Mixtral's expert names
        return '"gate.weight": ..., "*.w[123].weight": ...'
    return '"*proj*weight": ...' if holder == "MultiheadAttention" else '"*linear*.weight": ..., "*proj*weight": ...'



@dataclass
class _Entry:
    """One key of a scope's mapping, with what it matched (for V091 once everything is walked)."""

    key: str
    value: Any
    owner: Any  # the mapping holding it (positions)
    where: str  # "init: of 'layer1.0'" or "the model's init:"
    base: str = ""  # the path its keys are relative to
    reached: list[Node] = field(default_factory=list)  # leaves or groups it applies to
    params_seen: dict[str, bool] = field(default_factory=dict)  # its parameter keys: matched anything?

    @property
    def loc(self) -> Location | None:
        return self.owner.key_loc(self.key) if hasattr(self.owner, "key_loc") else None


@dataclass
class _Scope:
    base: str  # path of the group the keys are relative to ("" for the model)
    entries: list[_Entry]


class _Assigner:
    def __init__(self, blocks: set[str]) -> None:
        self.blocks = blocks
        self.diags: list[Diagnostic] = []
        self.entries: list[_Entry] = []
        self._reported: set[tuple[int, str, str]] = set()
        self.types: set[str] = set()  # the leaf types of the model

    def error(self, code: str, message: str, loc: Location | None, hint: str | None, layer: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, loc, hint, "error", layer))

    # -- scopes ------------------------------------------------------------------------------
    def scope(self, mapping: Any, base: str, where: str, loc: Location | None) -> _Scope | None:
        if not isinstance(mapping, dict):
            self.error("V092", f"{where} must map layer types, block names or layer paths to what they take, got "
                       f"{yaml_flow(mapping)}", loc,
                       "write e.g. init: {Linear: {weight: {normal: {std: 0.02}}, bias: zeros}}")
            return None
        entries = [_Entry(str(k), v, mapping, where, base) for k, v in mapping.items()]
        self.entries += entries
        return _Scope(base, entries)

    def walk(self, g: Graph, scopes: list[_Scope]) -> None:
        for n in g.nodes:
            if n.shares is not None:
                continue  # `use:` owns no parameters: the module it applies has them
            if n.sub is not None:
                inner = [s for scope in scopes for e in self._matching(scope, n)
                         if (s := self.scope(e.value, n.path, f"init: {{{e.key}: ...}}", e.owner.value_loc(e.key)
                                             if hasattr(e.owner, "value_loc") else None)) is not None]
                own = n.init_written if n.sub.block not in (None, "repeat") else None  # a repeat's copies carry it
                at = getattr(own, "loc", None) or n.field_locs.get("init", n.loc)
                mine = [s] if own is not None and (s := self.scope(own, n.path, f"the init: of '{n.path}'", at)) else []
                self.walk(n.sub, [*scopes, *inner, *mine])
                continue
            if n.kind is None or n.result is None or (not scopes and n.init_written is None):
                continue  # (most specs say no init: at all, and pay nothing for it)
            self.leaf(n, scopes)

    def _matching(self, scope: _Scope, n: Node) -> Iterator[_Entry]:
        """The entries of ``scope`` that apply to node ``n``: types first, then paths (which win)."""
        rel = n.path[len(scope.base) + 1:] if scope.base else n.path
        types = {n.type}
        if n.kind is not None and n.result is not None and n.type == "TimeDistributed":
            types.add(str(n.result.args.get("layer")))
        by_type, by_path = [], []
        for e in scope.entries:
            kind = layers.lookup(e.key)
            if (kind is not None and kind.type_name in types) or (e.key in self.blocks and e.key in types):
                by_type.append(e)
            elif kind is None and e.key not in self.blocks and (e.key == rel or (
                    # a pattern reaches layers, not the groups around them: "*" is every layer inside
                    n.sub is None and _PATTERN & set(e.key) and fnmatchcase(rel, e.key))):
                by_path.append(e)
        for e in (*by_type, *by_path):
            e.reached.append(n)
            yield e

    # -- leaves ------------------------------------------------------------------------------
    def leaf(self, n: Node, scopes: list[_Scope]) -> None:
        assert n.kind is not None and n.result is not None
        weights = n.kind.weights(n.result.args)
        chosen: dict[str, tuple[Initializer, _Entry | None, Any, str]] = {}
        for scope in scopes:
            for e in self._matching(scope, n):
                self.params(n, weights, e.value, e, chosen, f"init: {{{e.key}: ...}}",
                            e.owner.value_loc(e.key) if hasattr(e.owner, "value_loc") else None)
        own = n.init_written
        if own is not None:
            self.params(n, weights, own, None, chosen, f"the init: of {n.type} '{n.path}'",
                        getattr(own, "loc", None) or n.field_locs.get("init", n.loc))
        out: dict[str, Initializer] = {}
        for name in weights:
            if name in chosen:
                init, entry, owner, key = chosen[name]
                if self.allowed(n, name, weights[name], init, entry, owner, key):
                    out[name] = init
        n.init = out

    def params(self, n: Node, weights: dict[str, tuple[int, ...]], mapping: Any, entry: _Entry | None,
               chosen: dict[str, tuple[Initializer, _Entry | None, Any, str]], where: str,
               loc: Location | None) -> None:
        """Apply one parameter mapping to leaf ``n``: exact names first, then patterns in order."""
        if not isinstance(mapping, dict):
            if entry is None or (id(entry), "", "form") not in self._reported:
                self._reported.add((id(entry), "", "form"))
                first = next(iter(weights), "weight")
                value = mapping if isinstance(mapping, str) else "zeros"
                self.error("V092", f"{where} maps each parameter to an initialiser, got {yaml_flow(mapping)}", loc,
                           f"write init: {{{first}: {value}}}" if entry is None else
                           f"write {entry.key}: {{{first}: {value}}}", n.path)
            return
        keys = sorted(mapping, key=lambda k: bool(_PATTERN & set(str(k))))  # exact names before patterns
        taken: set[str] = set()
        for key in keys:
            key = str(key)
            hits = [p for p in weights if p == key or (_PATTERN & set(key) and fnmatchcase(p, key))]
            if entry is not None:
                entry.params_seen[key] = entry.params_seen.get(key, False) or bool(hits)
            elif not hits:
                self.unknown_param(n, weights, key, mapping.key_loc(key) if hasattr(mapping, "key_loc") else loc)
                continue
            init = self.initialiser(mapping, key)
            if init is None:
                continue
            for p in hits:
                if p not in taken:
                    taken.add(p)
                    chosen[p] = (init, entry, mapping, key)

    def initialiser(self, mapping: Any, key: str) -> Initializer | None:
        value = mapping[key]
        at = mapping.value_loc(key) if hasattr(mapping, "value_loc") else None
        cache = (id(mapping), key)
        if cache in self._reported:
            return None
        try:
            return parse(value)
        except SpecError as err:
            self._reported.add(cache)
            inner = next(iter(value.values()), None) if isinstance(value, dict) and len(value) == 1 else None
            if err.field and isinstance(inner, dict) and hasattr(inner, "value_loc") and err.field in inner:
                at = inner.value_loc(err.field)
            self.error(err.code, f"init of {key}: {err.message}", at, err.hint)
            return None

    def unknown_param(self, n: Node, weights: dict[str, tuple[int, ...]], key: str, loc: Location | None) -> None:
        names = list(weights)
        if not names:
            self.error("V091", f"init: names parameter '{key}', but {n.type} '{n.path}' has no parameters", loc,
                       "remove init: from this layer", n.path)
            return
        guess = difflib.get_close_matches(key, names, n=1)
        self.error("V091", f"init: names parameter '{key}', which {n.type} '{n.path}' does not have", loc,
                   f"did you mean '{guess[0]}'?" if guess else f"its parameters: {_some(names)}", n.path)

    def allowed(self, n: Node, name: str, shape: tuple[int, ...], init: Initializer, entry: _Entry | None,
                owner: Any, key: str) -> bool:
        once = (id(owner), key, "")
        at = owner.value_loc(key) if hasattr(owner, "value_loc") else n.loc
        args = n.result.args if n.result is not None else {}
        if init.name in NEEDS_FANS and len(shape) < 2:
            if once not in self._reported:
                self._reported.add(once)
                weights = n.kind.weights(args) if n.kind is not None else {}
                matrix = next((p for p, s in weights.items() if len(s) >= 2), None)
                self.error("V094", f"init: {init.name} computes the fan-in and fan-out of a tensor of 2 dims or "
                           f"more, but {n.type} '{n.path}' {name} is {len(shape)}-d {shape}", at,
                           f"give {init.name} to the weights alone and the rest zeros: init: {{{matrix}: "
                           f"{init.name}, {name}: zeros}}" if matrix and entry is None else
                           "give a 1-d tensor (a bias, a norm's scale) zeros, ones, constant, normal or uniform: "
                           "only a weight of 2 dims or more has fans", n.path)
            return False
        reparam = next((k for k in ("weight_norm", "spectral_norm") if args.get(k)), None)
        if n.tie is not None and name == "weight" and not reparam and entry is not None:
            return False  # a type's or block's entry: the tied weight is its owner's, which its entry reaches
        why = (f"{reparam} reparametrises it (PyTorch's nn.init would change a computed copy, not the parameter)"
               if reparam and name == "weight" else
               f"it is '{n.tie}''s weight (tie:)" if n.tie is not None and name == "weight" else None)
        if why is None:
            return True
        if once not in self._reported:
            self._reported.add(once)
            fix = (f"initialise '{n.tie}''s weight instead" if n.tie is not None and not reparam else
                   f"drop {reparam} from this layer, or leave its weight out of init:")
            self.error("V095", f"init: cannot set {n.type} '{n.path}' {name}: {why}", at, fix, n.path)
        return False

    # -- what matched nothing --------------------------------------------------------------
    def unused_type(self, e: _Entry, type_name: str, known_paths: set[str]) -> None:
        inner = sorted({n for n in self.types if n in _HOLDS_INSIDE.get(type_name, ())})
        hint = (f"{inner[0]} holds its {type_name} layers inside: name their parameters under it, e.g. init: "
                f"{{{inner[0]}: {{{_inner_pattern(inner[0], type_name)}}}}}" if inner else
                f"the layer types here: {_some(sorted(self.types))}" if self.types else "remove the entry")
        self.diags.append(Diagnostic("V096", f"{e.where} names {type_name}, but no layer it covers is a "
                                     f"{type_name}, so the entry changes nothing", e.loc, hint, "warning"))

    def unmatched(self, known_paths: set[str]) -> None:
        # The copies of a repeat each hold the init: written once: one entry per place it is written.
        merged: dict[tuple[str, Location | None], _Entry] = {}
        for e in self.entries:
            first = merged.setdefault((e.key, e.loc), e)
            if first is not e:
                first.reached += e.reached
                for k, seen in e.params_seen.items():
                    first.params_seen[k] = first.params_seen.get(k, False) or seen
        for e in merged.values():
            kind = layers.lookup(e.key)
            if kind is not None and not e.reached:
                self.unused_type(e, kind.type_name, known_paths)
                continue
            if kind is None and e.key not in self.blocks and not e.reached:
                inside = sorted(p[len(e.base) + 1:] for p in known_paths if p.startswith(e.base + ".")) \
                    if e.base else sorted(known_paths)
                looks_type = e.key[:1].isupper()
                guess = (difflib.get_close_matches(e.key, sorted(self.blocks), n=1) or
                         [g for g in [layers.suggest(e.key)] if g]) if looks_type else \
                    difflib.get_close_matches(e.key, inside, n=1)
                model = e.where.startswith("the model")
                param_like = e.key in ("weight", "bias") or e.key.startswith(("weight_", "bias_"))
                self.error("V091", f"{e.where} names '{e.key}', which is no layer type, block or layer "
                           f"{'of the model' if model else 'inside it'}", e.loc,
                           f"did you mean '{guess[0]}'?" if guess else
                           "this init: is a block's or the model's: it maps layer types or layer paths to their "
                           f"parameters, e.g. init: {{Conv2d: {{{e.key}: ...}}}}" if param_like else
                           "name a layer type (Conv2d), a block, or a layer's path (layer1.0.bn2)", None)
                continue
            leaves = [n for n in e.reached if n.sub is None]
            for key, seen in e.params_seen.items():
                if seen or not leaves:
                    continue
                names = list(dict.fromkeys(p for n in leaves if n.kind is not None and n.result is not None
                                           for p in n.kind.weights(n.result.args)))
                guess = difflib.get_close_matches(key, names, n=1)
                at = e.value.key_loc(key) if hasattr(e.value, "key_loc") else e.loc
                self.error("V091", f"{e.where} names parameter '{key}' for {e.key}, but no layer it reaches "
                           f"({leaves[0].type} '{leaves[0].path}'{', …' if len(leaves) > 1 else ''}) has one", at,
                           f"did you mean '{guess[0]}'?" if guess else
                           f"their parameters: {_some(names)}" if names else "they have no parameters", None)


def _some(names: list[str]) -> str:
    return ", ".join(names[:8]) + (", …" if len(names) > 8 else "")


def assign_init(graph: Graph, model_init: Any, blocks: set[str], loc: Location | None = None) -> list[Diagnostic]:
    """Fill ``Node.init`` of every leaf of ``graph`` from the layers' ``init:``, their blocks' and the
    model's (``model_init``: the top-level section as written, or None); the problems found."""
    a = _Assigner(blocks)
    scopes = []
    if isinstance(model_init, dict):  # anything else is the document's V003
        top = a.scope(model_init, "", "the model's init:", getattr(model_init, "loc", loc))
        scopes = [top] if top is not None else []
    a.types = {n.type for n in graph.leaves() if n.kind is not None}
    a.walk(graph, scopes)
    a.unmatched({n.path for _, n in graph.walk()})
    return a.diags
