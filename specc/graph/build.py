"""The engine: turn expanded layer items into a shaped graph.

For each layer it resolves ``from:``, checks arity, dtype and rank, validates the
parameters against the kind's model, and asks the kind for its output.  Whatever a
rule raises gets the layer's name, type and ``file:line:col`` here, so rules stay one
sentence.  A failed layer poisons only what depends on it: every other problem in the
spec is still reported in the same run.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from ..diagnostics import Diagnostic, Location, SpecError
from ..layers import base as layers
from ..layers.base import channels_last_permute
from ..layers.catalogue import elsewhere
from ..layers.check import check_layer
from ..load.expand import LAYER_META, deferred_in, resolve_deferred
from ..load.expr import InputShape
from ..load.yaml_loader import Dropped
from ..shapes.dims import Dim, Sym, add, mul
from ..shapes.formulas import exact_div
from ..shapes.tensor import INT_DTYPES, MAX_ELEMENTS, PARAM_MEMORY_WARNING, TensorType, batch_symbol
from ..validate.errors import pydantic_diagnostics
from ..validate.items import LayerDecl, Layers
from ..validate.naming import name_problem, silenceable_list, split_silenceable, suggest_name
from .culprit import merge_culprit
from .ir import Graph, Node, producer
from .left_out import branch_left_out, output_past, reads_past
from .made import made_chains
from .names import auto_name
from .sharing import reuse, tie

RECURRENT = ("RNN", "LSTM", "GRU")
# layers that keep a (B, H) vector a (B, H) vector: a recurrent layer's last step is found through them
KEEPS_SHAPE = ("dropout", "activation", "norm")


def _last_step_origin(g: Graph, node: Node, kind: Any) -> Node | None:
    """The recurrent layer whose output: last (or final_hidden) reaches ``node``, a recurrent layer
    that needs every step, through layers that keep the shape (a Dropout between stacked LSTMs)."""
    if kind.type_name not in RECURRENT or not node.inputs:
        return None
    src = g.node(producer(node.inputs[0]))
    while src is not None and src.kind is not None:
        if src.type in RECURRENT:
            return src if getattr(src.params, "output", None) in ("last", "final_hidden") else None
        if type(src.kind).__module__.rsplit(".", 1)[-1] not in KEEPS_SHAPE or len(src.inputs) != 1:
            return None
        src = g.node(producer(src.inputs[0]))
    return None


def _written_key(kind: layers.LayerKind, field: str, keys: Any) -> str | None:
    """The key the spec wrote for a parameter an error names: the field itself, or one of its aliases
    (sliding_window for window, num_key_value_heads for num_kv_heads); None when neither is written."""
    if field in keys:
        return field
    info = kind.Params.model_fields.get(field)
    alias = getattr(info, "validation_alias", None) if info is not None else None
    return next((a for a in getattr(alias, "choices", ()) if isinstance(a, str) and a in keys), None)


def _channels_last_origin(g: Graph, node: Node) -> str | None:
    """Where a channels-last image went wrong, when it is not at ``node``: the layers up to it read
    one model input, which looks channels-last, and an earlier one (a conv reading the rows as
    channels) already took its layout for (C, H, W); the Permute belongs before that one."""
    first, src = node, node.inputs[0] if node.inputs else None
    while src is not None and src not in g.inputs:
        up = g.node(src)
        if up is None or up.sub is not None or len(up.inputs) != 1:
            return None
        first, src = up, up.inputs[0]
    image = g.inputs.get(src) if src is not None and g.block is None else None
    dims = channels_last_permute(image) if image is not None else None
    if image is None or dims is None or first is node:
        return None
    line = f" (line {first.loc.line})" if first.loc is not None else ""
    first_dims = ", ".join(str(image.shape[d]) for d in dims)
    return (f"input '{src}' {image} looks channels-last (its last dim, {image.shape[-1]}, is the colours), and "
            f"{first.type} '{first.path}'{line} read it as (C, H, W): declare it channels-first, {src}: "
            f"[{first_dims}], or add - {{type: Permute, dims: {dims}}} before '{first.path}'")


def _folded_batch_origin(g: Graph, node: Node, batch: str | None) -> str | None:
    """Where the batch went, when a layer needs a fixed size that holds it: a Reshape up the chain that
    puts a fixed number at dim 0 where the batch was (PyTorch's x.view(32, -1), written with the
    training batch size), so that its -1 takes the batch and every sample's values mix."""
    src = node.inputs[0] if len(node.inputs) == 1 else None
    while batch is not None and src is not None and src not in g.inputs:
        up = g.node(producer(src))
        if up is None or up.sub is not None or len(up.inputs) != 1 or up.out is None:
            return None
        x = g.value(up.inputs[0])
        if up.type == "Reshape" and x is not None and str(x.shape[0]) == batch and isinstance(up.out.shape[0], int):
            written = list(up.params.shape)
            fixed = ", ".join(str(v) for v in [batch, *written[1:]])
            line = f" (line {up.loc.line})" if up.loc is not None else ""
            return (f"Reshape '{up.path}'{line} gives {up.out}: a fixed {up.out.shape[0]} at dim 0, where the batch "
                    f"{batch} was, so its -1 takes the batch and the samples' values mix (x.view("
                    f"{up.out.shape[0]}, -1) with the training batch size); keep the batch at dim 0, write shape: "
                    f"[{fixed}] on it")
        src = up.inputs[0]
    return None


def _batchless_input(src: str, x: TensorType, kind: layers.LayerKind) -> str | None:
    """A layer one rank short because it reads model input ``src`` declared without its batch, as one
    sample ([3, 224, 224], Keras' input_shape): the input's declaration is the fix, not a Reshape."""
    if not all(isinstance(d, int) for d in x.shape):
        return None
    if (x.rank + 1 not in kind.ranks) if kind.ranks is not None else x.rank != 1:
        return None
    dims = ", ".join(str(d) for d in x.shape)
    return f"declare the batch as dim 0 of input '{src}': {src}: [B, {dims}] (each sample is then {x.shape})"


def _batch_second(item: Any) -> bool:
    if isinstance(item, LayerDecl):
        return _batch_second(item.params) or (item.group is not None and _batch_second(item.group.children))
    if isinstance(item, dict):
        return (item.get("batch_first") is False or any(_batch_second(v) for v in item.values())
                or _batch_second(getattr(item, "children", None)))
    if isinstance(item, list):
        return any(_batch_second(v) for v in item)
    return False


def _substitute(d: Any, name: str, value: Any) -> Any:
    """``d`` with the symbol ``name`` replaced by ``value``."""
    if not isinstance(d, Dim):
        return d
    total: Any = 0
    for mono, coeff in d.terms:
        term: Any = coeff
        for a in mono:
            term = mul(term, value if isinstance(a, Sym) and a.name == name else Dim.make({(a,): 1}))
        total = add(total, term)
    return total


def fix_batch_second_macs(graph: Graph) -> None:
    """Per-sample MACs exclude the batch. Shape rules count the work of one slice along dim 0,
    the batch in (B, T, F); after a ``batch_first: false`` layer the batch sits in dim 1 of
    (T, B, F), so such a rule counted one time step over the whole batch.  The layer's work is
    that count times its dim 0; per sample, that over the batch symbol (dim 1 of any
    ``batch_first: false`` layer's input, else dim 0 of the inputs): (T, B, F) into a Linear is
    T·F·out per sample, and an attention that takes T for its batch and B for its steps keeps
    its B² term as T·B."""
    if graph.batch is None:
        return
    _fix_macs(graph, graph.batch)


def graph_batch_symbol(graph: Graph) -> str | None:
    """The batch symbol of a built graph: dim 1 of any ``batch_first: false`` layer's input, else
    dim 0 of the inputs."""
    for g, n in leaves_with_graph(graph):
        if n.result is not None and getattr(n.params, "batch_first", True) is False and n.inputs:
            x = g.value(n.inputs[0])
            if x is not None and x.rank >= 2 and isinstance(x.shape[1], Dim) and len(x.shape[1].symbols()) == 1:
                return next(iter(x.shape[1].symbols()))
    return batch_symbol(graph.inputs)


def leaves_with_graph(g: Graph) -> Any:
    """(graph, node) for every leaf node, with the (sub)graph whose values its inputs name."""
    for n in g.nodes:
        if n.sub is not None:
            yield from leaves_with_graph(n.sub)
        else:
            yield g, n


def _fix_macs(g: Graph, batch: str) -> None:
    for n in g.nodes:
        if n.result is None:
            continue
        if n.sub is not None:
            _fix_macs(n.sub, batch)
            n.result.macs = n.sub.totals()[2]
            continue
        x = g.value(n.inputs[0]) if n.inputs else None
        macs = n.result.macs
        if x is None or not x.rank or not isinstance(macs, Dim) or batch not in macs.symbols():
            continue
        if getattr(n.params, "batch_first", True) is False:
            continue  # its own rule knows the batch is dim 1
        b = Dim.make({(Sym(batch),): 1})
        if x.shape[0] != b:
            per_sample = exact_div(mul(x.shape[0], macs), b)
            n.result.macs = per_sample if per_sample is not None else _substitute(macs, batch, x.shape[0])


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _plain_map(entry: dict[Any, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in entry.items()) + "}"


# Past this many names a G001 hint neither searches nor lists them all: a spec with thousands of
# bad from: names made check quadratic (4,000 took 86 s) and printed hints of every layer name.
_SUGGEST_FROM = 200


def _readable_hint(name: str, known: list[str]) -> str:
    """The fix for a from: name that names nothing: the closest name it can read (among the
    inputs and the latest layers, where a typo's target usually is), or the names themselves."""
    near = known if len(known) <= _SUGGEST_FROM else [*known[:8], *known[-_SUGGEST_FROM:]]
    guess = difflib.get_close_matches(name, near, n=1)
    if guess:
        return f"did you mean '{guess[0]}'?"
    if len(known) <= 20:
        return f"names it can read here: {', '.join(known) or 'none'}"
    return "name an input or a layer written above this one (from: takes their names)"


# Why a target cannot write a layer of this type with these attributes ("reason; fix"), or None.
# (layer type, resolved attributes, inputs as (value name, type), output types, the layer's
# qualified path) -> "reason; fix" or None
Limits = Callable[[str, dict[str, Any], list[tuple[str, TensorType]], tuple[TensorType, ...], str], str | None]


def _check_ids(g: Graph, kind: layers.LayerKind, ref: str) -> None:
    """Ids (an Embedding's) must be an input's ids, passed on by layers that move them: ids computed
    from floats (a Cast) or by a Sub can fall outside [0, num_embeddings), and the lookup then fails
    at run time on the first out-of-range value."""
    for _ in range(len(g.nodes) + 1):
        node = g.node(producer(ref))
        if node is None or node.kind is None or not node.inputs:
            return  # an input's ids, or a block's output
        src = g.value(node.inputs[0])
        made = (f"Cast '{node.path}' makes them from {src.dtype} values" if node.type == "Cast" and src is not None
                and src.is_float else f"Sub '{node.path}' computes them, and a difference can be negative"
                if node.type == "Sub" else None)
        if made:
            raise SpecError("S007", f"{kind.type_name} looks up ids, but {made}: nothing keeps them within "
                            "its table, and the first one outside fails the lookup when the model runs",
                            "read the ids from an input declared {shape: [...], dtype: int64}")
        if not (node.kind.may_alias or node.type in ("Cast", "Dropout")):
            return  # Max, Min, Abs of ids keep them within the ids' range
        ref = node.inputs[0]


def resolve_port(g: Graph, name: str) -> tuple[str, tuple[str, str, str] | None]:
    """``name`` as the graph stores it (``split.left`` is ``split.1``), and (code, why, fix) when it
    reads a layer of several outputs whole, or an output its layer does not have.  Names of inputs,
    of blocks and of nothing are returned as they are, for the caller's own checks."""
    node = g.node(producer(name))
    if name in g.inputs or node is None or node.sub is not None or node.result is None:
        return name, None  # a failed layer was reported; what reads it is skipped
    res, layer = node.result, node.name
    if not res.outs:
        if name == layer:
            return name, None
        state = (f"; for its final state as another layer's initial state, give '{layer}' output: state and read "
                 f"{layer}.h" + (f" and {layer}.c" if node.type == "LSTM" else "")
                 + f" (output: sequence_and_state keeps its steps too, as {layer}.sequence)"
                 if node.type in ("LSTM", "GRU", "RNN") and res.args.get("output") != "state" else "")
        return name, ("G001", f"reads '{name}', but {node.type} '{layer}' has one output",
                      f"read it as {layer}{state}")
    ports = ", ".join(res.port_names(layer))
    if name == layer:
        return name, ("S017", f"reads '{layer}', but {node.type} '{layer}' has {len(res.outs)} outputs",
                      f"read one of them: {ports}")
    index = res.port(name.split(".", 1)[1])
    if index is None:
        return name, ("G001", f"reads '{name}', but {node.type} '{layer}' has no output "
                      f"'{name.split('.', 1)[1]}'", f"its outputs are {ports}")
    return f"{layer}.{index}", None


def _misplaced(diags: list[Diagnostic], item: LayerDecl, kind: Any, before: Node | None) -> list[Diagnostic]:
    """An unknown parameter that the layer just above takes and does not write was meant for it:
    copy-pasted onto the wrong line, or indented under the next '- type:' (a BatchNorm2d's
    'stride' guessed as 'tie' helps nobody)."""
    if before is None or before.kind is None:
        return diags
    own = set(kind.Params.model_fields)
    theirs = {a for n, f in before.kind.Params.model_fields.items()
              for a in (n, *getattr(f.validation_alias, "choices", ()))}
    # The keys the layer above writes were not moved away from it.
    written = set(before.field_locs)
    for d in diags:
        key = next((k for k in item.params if isinstance(k, str) and k not in own and item.field_locs.get(k) == d.loc),
                   None)
        if d.code == "V001" and key in theirs and key not in written:
            line = f" on line {before.loc.line}" if before.loc is not None else ""
            d.hint = (f"'{key}' is a parameter of {before.type} '{before.path}'{line}, not of {kind.type_name}: "
                      f"move it to that layer (write it with that layer's keys), or remove it")
    return diags


def _ids_bounded_by_tables(items: Layers, inputs: dict[str, TensorType]) -> dict[str, TensorType]:
    """The inputs, each integer one an Embedding of fixed rows looks up as it is given its bound: in any
    run that works its ids stay below those rows, so ids the graph computes from it carry the bound on to
    the tables they reach (S070 there).  SASRec's positions multiplied by the item ids instead of by
    ``ids != 0`` reached L·3416 in a table of 201 rows and failed in export after check said ok."""
    out = dict(inputs)
    for i, item in enumerate(items):
        src = item.source if item.source is not None or i or len(inputs) != 1 else next(iter(inputs))
        if item.type != "Embedding" or not isinstance(src, str) or src not in out:
            continue
        from ..layers.embedding import EmbeddingParams  # only for a spec with an Embedding

        # the spellings the schema takes (num_embeddings, Keras' input_dim), read from it, not repeated
        spellings = EmbeddingParams.model_fields["num_embeddings"].validation_alias.choices  # type: ignore[union-attr]
        rows = next((item.params[k] for k in spellings if k in item.params), None)
        t = out[src]
        if (isinstance(t, TensorType) and t.dtype in INT_DTYPES and isinstance(rows, int)
                and not isinstance(rows, bool) and rows > 0):
            high = rows - 1 if not isinstance(t.high, int) else min(t.high, rows - 1)
            out[src] = dataclasses.replace(t, high=high)
    return out


class GraphBuilder:
    def __init__(self, limits: Limits | None = None) -> None:
        """``limits``: what the caller's target and exporter cannot write (the engine knows no
        target; the pipeline passes them in), reported as U002 at the layer's line."""
        self.limits = limits
        self.diags: list[Diagnostic] = []
        self._declared: list[set[str]] = []  # explicit names of the scopes being built
        # per scope: names a false when: (or a repeat: of 0) left out, with that key and where it is
        self._omitted: list[dict[str, tuple[str, Location | None]]] = []
        # Names already reported as unusable (V006), per scope: a reference to one is not a
        # second mistake, so it is skipped silently like a layer after a failed one.
        self._rejected: list[set[str]] = []
        self.rejected_top: set[str] = set()
        self.batch: str | None = None  # the symbol every input starts with
        self._warned: set[tuple[str, Location | None, str | None]] = set()
        self._decls: dict[str, LayerDecl] = {}  # the items built, by path: `use:` rebuilds a block on its input

    def error(self, code: str, message: str, loc: Location | None, hint: str | None = None,
              layer: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, loc, hint, "error", layer))

    # -- graphs --------------------------------------------------------------------------------
    def build(self, name: str, items: Layers, inputs: dict[str, TensorType], prefix: str = "",
              block: str | None = None, output: Any = None, trainable: bool = True) -> Graph:
        batch_second = not self._declared and _batch_second(items)
        if not self._declared:
            # with a batch_first: false layer, dim 0 of the inputs may be time, not the batch: the
            # batch is known once the graph is built, and its requirements are checked then
            self.batch = None if batch_second else batch_symbol(inputs)
        if not self._declared:
            inputs = _ids_bounded_by_tables(items, inputs)
        g = Graph(name, inputs, block=block)
        explicit = self._explicit_names(items, inputs, prefix)
        self._declared.append(explicit)
        self._omitted.append(items.omitted)
        counters: dict[str, int] = {}
        prev: str | None = next(iter(inputs)) if len(inputs) == 1 else None
        # A repeat of a block of several inputs chains the first (each copy reads the one before)
        # and hands the others to every copy as they are: a transformer layer's mask.
        shared = list(inputs)[1:] if block == "repeat" and len(inputs) > 1 else []
        for i, item in enumerate(items):
            loc = item.loc
            if block == "repeat":
                local = str(i)
            elif isinstance(item.name, str) and item.name in explicit:
                local = item.name
            else:
                local = self._auto(item, counters, explicit)
            sources = [prev or next(iter(inputs)), *shared] if shared else None
            node = self.node(g, item, local, prefix, loc, prev, trainable, sources)
            g.add(node)
            # the item above, kept by a when: of its own, is the alternative to those left out below it
            alternative = i > 0 and "when" in items[i - 1].keys
            if i in items.dropped and "from" not in item.keys and prev is not None and not alternative:
                self._read_past(items.dropped[i], prev, node, item)
            prev = node.name
        last_alternative = bool(items) and "when" in items[-1].keys
        if (block not in (None, "repeat") and not isinstance(output, str) and len(items) in items.dropped and prev
                and not last_alternative):
            branch = branch_left_out(items.dropped[len(items)], prev)
            if branch is not None:
                self._warn_once(output_past(str(block), prev, branch, branch.loc, prefix.rstrip(".")))
        if block is not None:
            target = output if isinstance(output, str) else prev
            if target in self._rejected[-1]:
                pass
            elif target is not None and (port := resolve_port(g, target))[1] is not None:
                code, why, fix = port[1]
                self.error(code, f"block '{block}': its output {why}", getattr(items, "loc", None),
                           fix.replace("read one of them", "set output: to one of them"))
            elif target is not None and g.value(target) is None and g.node(target) is None:
                names = ", ".join(n.name for n in g.nodes) or "none"
                self.error("G001", f"block '{block}': output '{target}' is not one of its layers",
                           getattr(items, "loc", None), f"set output: to one of its layers ({names})")
            elif target is not None:
                g.outputs = [("output", resolve_port(g, target)[0])]
        self._declared.pop()
        self._omitted.pop()
        self._rejected.pop()
        if not self._declared:
            g.batch = graph_batch_symbol(g)
        if batch_second:
            self._check_batch_second_requirements(g)
        if not self._declared and g.ok:
            self._check_total_params(g)
            self.diags.extend(made_chains(g))
        return g

    def _check_batch_second_requirements(self, g: Graph) -> None:
        """U001 for a graph whose batch symbol was found only once it was built (a ``batch_first:
        false`` layer puts it in dim 1); the layers after a refused one keep their results here."""
        self.batch = g.batch
        # the layer that put the batch in dim 1: when the data is batch-first after all, its
        # setting, not the layer refused, is the mistake
        seq_first = next((n for n in g.leaves() if getattr(n.params, "batch_first", None) is False), None)
        for node in g.leaves():
            if node.result is None or node.kind is None:
                continue
            try:
                self._check_requirements(node.result)
            except SpecError as err:
                at = node.field_locs.get(err.field, node.loc) if err.field else node.loc
                hint = err.hint
                if seq_first is not None and err.code == "U001" and self.batch is not None:
                    hint = (f"{self.batch} is the batch here because {seq_first.type} '{seq_first.path}' has "
                            f"batch_first: false, reading (T, B, ...): if the data is (B, T, ...), drop that "
                            f"setting; otherwise {hint}")
                self.diags.append(Diagnostic(err.code, f"{node.kind.type_name} '{node.path}': {err.message}", at,
                                             hint, "error", node.path))

    def _check_total_params(self, g: Graph) -> None:
        """The model's parameters: beyond int64 no framework counts them (S011); beyond a few
        GB in float32 few machines hold them (S012, a warning with the size)."""
        total = g.totals()[0]
        if total * 4 <= PARAM_MEMORY_WARNING:
            return
        big, most = max(((n, n.result.params) for n in g.leaves() if n.result is not None), key=lambda nb: nb[1])
        share = f"; {big.type} '{big.path}' alone has {most:,}"
        if total > MAX_ELEMENTS:
            self.error("S011", f"the model has {total:,} parameters, over the limit of {MAX_ELEMENTS:,} (2**63 - 1)"
                       f"{share}", big.loc, "make the largest layers smaller", layer=big.path)
            return
        self.diags.append(Diagnostic(
            "S012", f"the model's parameters take {total * 4 / 1e9:,.1f} GB in float32 ({total:,} parameters"
            f"{share}), more than {PARAM_MEMORY_WARNING // 10**9} GB", big.loc,
            "building, exporting or training it needs at least that much memory; make the largest layers "
            "smaller, or silence this with ignore: [S012] where the machine has the memory", "warning", big.path))

    def _explicit_names(self, items: Layers, inputs: dict[str, TensorType], prefix: str) -> set[str]:
        names: set[str] = set()
        bad: set[str] = set()
        self._rejected.append(bad)
        if len(self._rejected) == 1:
            self.rejected_top = bad
        for item in items:
            if not item.named:
                continue
            name = item.name
            problem = name_problem(name)
            loc = item.at("name")
            if problem:
                bad.add(str(name))
                self.error("V006", f"layer {problem}", loc,
                           f"rename it, e.g. name: {suggest_name(name, 'layer', name_problem)}",
                           layer=f"{prefix}{name}")
                continue
            if name in names or name in inputs:
                first = next((i.at("name") for i in items if i.named and i.name == name), None)
                where = "an input" if name in inputs else f"the layer on line {first.line}" if first else "another"
                self.error("V007", f"the name '{name}' is already used by {where}", loc,
                           f"give every layer and input its own name, e.g. name: {name}_2", layer=f"{prefix}{name}")
                continue
            names.add(name)
        return names

    def _ignore_codes(self, item: LayerDecl, path: str) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
        """`ignore: [L004]` silences those warnings for this layer (and inside a block instance);
        on a block instance or repeat, `ignore: [{proj: L017}]` silences them for the layer of
        that path inside this instance only."""
        raw = item.ignore
        codes: set[str] = set()
        inside: dict[str, frozenset[str]] = {}
        for entry in raw if isinstance(raw, list) else [raw]:
            if not isinstance(entry, dict):
                codes |= self._silenceable([entry], item, path)
                continue
            if item.group is None:
                self.error("V003", f"ignore: {_plain_map(entry)} names a layer inside a block or repeat, but "
                           f"'{path}' is a single layer", item.at("ignore"),
                           f"write ignore: [{', '.join(map(str, _as_list(next(iter(entry.values()), ''))))}] to "
                           "silence it on this layer", layer=path)
                continue
            for inner, value in entry.items():
                found = self._silenceable(_as_list(value), item, path)
                inside[str(inner)] = inside.get(str(inner), frozenset()) | found
        return frozenset(codes), inside

    def _silenceable(self, raw: list[Any], item: LayerDecl, path: str) -> frozenset[str]:
        from ..codes import closest_warning_code

        out, bad = split_silenceable(raw)
        for code in bad:
            guess = closest_warning_code(str(code))
            self.error("V003", f"ignore: {code!r} is not a warning code specc can silence", item.at("ignore"),
                       f"did you mean {guess}?" if guess else f"warning codes: {silenceable_list()}", layer=path)
        return frozenset(out)

    def _check_ignored_paths(self, node: Node, item: LayerDecl) -> None:
        """Each layer an instance's `ignore:` names must be inside it (V003 with the names otherwise)."""
        assert node.sub is not None
        names = [p.path[len(node.path) + 1:] for _, p in node.sub.walk()]
        for inner in node.ignore_inside:
            if inner not in names:
                guess = difflib.get_close_matches(inner, names, n=1)
                shown = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
                self.error("V003", f"ignore: names '{inner}', which is not a layer inside '{node.path}'",
                           item.at("ignore"), f"did you mean '{guess[0]}'?" if guess else
                           f"the layers inside it: {shown}", layer=node.path)

    @staticmethod
    def _auto(item: LayerDecl, counters: dict[str, int], taken: set[str]) -> str:
        t = item.type
        base = t if isinstance(t, str) else item.use if isinstance(item.use, str) else "layer"
        kind = layers.lookup(base)
        base = kind.type_name if kind else base
        while True:
            counters[base] = counters.get(base, 0) + 1
            name = auto_name(base, counters[base])
            if name not in taken:
                return name

    def _read_past(self, dropped: list[Dropped], prev: str, node: Node, item: LayerDecl) -> None:
        branch = branch_left_out(dropped, prev)
        if branch is not None:
            who = f"'{node.path}' (use: {item.use})" if "use" in item.keys else f"{node.type} '{node.path}'"
            self._warn_once(reads_past(who, prev, branch, item.loc, node.path))

    def _warn_once(self, diag: Diagnostic) -> None:
        """A warning about what the spec writes at one line, once for every instance of its block."""
        key = (diag.code, diag.loc, diag.hint)
        if key not in self._warned:
            self._warned.add(key)
            self.diags.append(diag)

    # -- nodes ---------------------------------------------------------------------------------
    def node(self, g: Graph, item: LayerDecl, local: str, prefix: str, loc: Location | None, prev: str | None,
             trainable: bool, sources: list[str] | None = None) -> Node:
        """``sources``: what the layer reads when its scope decides it (a copy of a repeat), not its from:."""
        path = f"{prefix}{local}"
        if not item.mapping:
            return Node(local, path, "?", loc, [])
        ltype = item.type
        node = Node(local, path, str(ltype), loc, [], explicit_name=item.named)
        node.field_locs = item.field_locs
        node.trainable = trainable and item.trainable is not False
        node.template = item.template
        node.init_written = item.init
        if "ignore" in item.keys:
            node.ignore, node.ignore_inside = self._ignore_codes(item, path)
        if item.broken:
            return node
        node.inputs = sources if sources is not None else self._sources(g, item, prev, path, loc)
        self._decls[path] = item
        if "use" in item.keys:
            return reuse(self, g, item, node, self._decls)
        if item.group is not None:
            self._group(g, item, node)
            if "tie" in item.keys:
                tie(self, g, item, node)
            return node
        if not isinstance(ltype, str):
            self.error("V002" if ltype is None else "V003",
                       "every layer needs a type" if ltype is None else f"layer type must be text, got {ltype!r}",
                       loc, _type_hint(item), layer=path)
            return node
        kind = layers.lookup(ltype)
        if kind is None:
            guess = layers.suggest(ltype)
            known = layers.lookup(guess) if guess else None
            if known and known.type_name.lower() == guess.lower():  # 'conv2d': Conv2d, not the alias Conv2D
                guess = known.type_name
            self.error("V004", f"unknown layer type '{ltype}'", item.at("type"),
                       elsewhere(ltype) or (f"did you mean '{guess}'?" if guess else
                                            "run `specc layers` to list the layer types"), layer=path)
            return node
        node.type = kind.type_name
        node.kind = kind
        raw = item.params
        bad_trainable = "trainable" in item.keys and not isinstance(item.trainable, bool)
        if bad_trainable:  # reported beside any parameter errors: every problem in one run
            self.error("V003", f"{kind.type_name} '{path}': trainable must be true or false, got "
                       f"{item.trainable!r}", item.at("trainable"),
                       "write trainable: false to freeze the layer's parameters, or leave it out", layer=path)
        try:
            node.params = kind.Params.model_validate(raw)
        except ValidationError as exc:
            found = pydantic_diagnostics(exc, item.written, kind.Params, what=f"{kind.type_name} '{path}'",
                                         layer=path, extra_keys=LAYER_META)
            self.diags.extend(_misplaced(found, item, kind, g.node(prev) if prev is not None else None))
            return node
        if bad_trainable:
            return node
        ins = [g.value(s) for s in node.inputs]
        if not node.inputs or any(t is None for t in ins):
            return node  # an upstream problem was already reported
        tensors: list[TensorType] = [t for t in ins if t is not None]
        try:
            declared = g.block is None and all(s in g.inputs for s in node.inputs)
            result = check_layer(kind, node.params, tensors, declared=declared)
            if kind.accepts == "int":
                _check_ids(g, kind, node.inputs[0])
            self._check_requirements(result)
            self._check_target(kind, result, list(zip(node.inputs, tensors)), node.path)
            node.result = result
            if "tie" in item.keys:
                tie(self, g, item, node)
        except SpecError as err:
            node.result = None  # sizes no framework can allocate reach no later layer
            # A rule may locate itself (TimeDistributed points inside its nested layer: mapping).
            written = _written_key(kind, err.field, item.keys) if err.field else None
            at = err.loc or (item.at(written) if written else loc)
            message = err.message.removeprefix(f"{kind.type_name}: ")  # the engine names the layer itself
            if written is not None and written != err.field and err.hint:
                # the spec spelled the key by an alias (hidden_size for in_features): a hint's edit names it that
                # way, so that applied as written it changes that key rather than adding its other name beside it
                err.hint = re.sub(rf"\b{re.escape(str(err.field))}: ", f"{written}: ", err.hint)
            blame = merge_culprit(g, node, tensors) if err.code in ("S006", "S010") else None
            if blame is not None:  # a branch's padding, not the merge, is what to change
                culprit = blame.node
                self.diags.append(Diagnostic(err.code, blame.message, culprit.field_locs.get(blame.field, culprit.loc),
                                             blame.hint, "error", culprit.path))
                return node
            hint = err.hint
            if err.code == "S002" and channels_last_permute(tensors[0]) is not None:
                hint = _channels_last_origin(g, node) or hint
            if err.code == "S005" and len(tensors) == 1:
                hint = _folded_batch_origin(g, node, self.batch) or hint
            if err.code == "S003" and declared and len(tensors) == 1 and (
                    undeclared := _batchless_input(node.inputs[0], tensors[0], kind)):
                hint = f"{undeclared}; or {hint}" if hint else undeclared
            if err.code == "S003" and len(tensors) == 1 and (last := _last_step_origin(g, node, kind)) is not None:
                # Keras' stacked LSTMs with return_sequences left off the lower one: the fix is on that one
                self.diags.append(Diagnostic(
                    err.code, f"{kind.type_name} '{path}': {message}: {last.type} '{last.path}' below it returns "
                    f"one vector per sequence (output: {last.params.output}), not its steps",
                    last.field_locs.get("output", last.loc),
                    f"set output: sequence on '{last.path}' so that it returns every step for '{path}' to read "
                    "(Keras' return_sequences=True)", "error", path))
                return node
            self.diags.append(Diagnostic(err.code, f"{kind.type_name} '{path}': {message}", at, hint, "error", path))
        return node

    def _check_requirements(self, result: layers.LayerResult) -> None:
        """A size a layer needs may bind a symbol from below (T >= 21), but never the batch: a model
        must run on a batch of any size, a single sample included."""
        for need in result.requires:
            if self.batch is not None and isinstance(need.size, Dim) and self.batch in need.size.symbols():
                raise SpecError("U001", f"{need.why} needs {need.text().split(' (')[0]}, but {self.batch} is the "
                                "batch size, which must be free (batches of 1 included)",
                                "act on the batch dim only with sizes that always exist (index 0 or -1), or move "
                                "the operation to a non-batch dim", field=need.field)

    def _check_target(self, kind: layers.LayerKind, result: layers.LayerResult,
                      inputs: list[tuple[str, TensorType]], path: str) -> None:
        """A layer the caller's target or exporter cannot write (``limits``) is refused here, where
        the spec says it, not by `specc export` after `check` said ok."""
        outs = result.outs or (result.out,)
        why = self.limits(kind.type_name, result.args, inputs, outs, path) if self.limits is not None else None
        if why:
            reason, _, fix = why.rpartition("; ") if "; " in why else (why, "", "")
            field = next((k for k, v in result.args.items() if v and k in reason), None)
            raise SpecError("U002", f"cannot be exported to ONNX: {reason}", fix or None, field=field)

    @staticmethod
    def _by_position_hint(g: Graph, names: list[Any], prev: str | None) -> str:
        """The fix of a from: that counts layers as Keras' and PyTorch's indexing do (-1 for the layer
        above, -2 for the one before): the same list with the names of the layers it counted to. A
        count that reaches no layer, or an index from the start (0, 1: a Sequential's), gets the
        general form, since which layer was meant is not known."""
        above = [n.name for n in g.nodes if n.name and n.name != "?"]
        if prev is not None and (not above or above[-1] != prev):
            above.append(prev)
        fixed: list[str] = []
        for name in names:
            if isinstance(name, str):
                fixed.append(name)
            elif isinstance(name, int) and not isinstance(name, bool) and 0 < -name <= len(above):
                fixed.append(above[name])
            else:
                return "write from: conv1 or from: [a, b], naming the layers it reads"
        listed = f"[{', '.join(fixed)}]" if len(fixed) > 1 else fixed[0]
        above_is = f"; '{prev}' is the layer above" if prev in fixed else ""
        return f"write from: {listed} (from: names the layers it reads, it does not count them{above_is})"

    def _sources(self, g: Graph, item: LayerDecl, prev: str | None, path: str, loc: Location | None) -> list[str]:
        t = item.type
        kind = layers.lookup(t) if isinstance(t, str) else None
        who = f"{kind.type_name if kind else t} '{path}'" if "use" not in item.keys else f"'{path}' (use: {item.use})"
        if "from" not in item.keys:
            if prev is None:
                if len(g.inputs) > 1:
                    # The merge is offered only to a layer that takes that many inputs.
                    merges = kind is not None and kind.min_inputs > 1 and (
                        kind.max_inputs is None or kind.max_inputs >= len(g.inputs))
                    merge = f" (or from: [{', '.join(g.inputs)}] for a merge)" if merges else ""
                    owner = f"block '{g.block}'" if g.block else "the model"
                    self.error("G004", f"{who} is the first layer, but {owner} has several inputs "
                               f"({', '.join(g.inputs)}) and it does not say which one it reads", loc,
                               f"add from: {next(iter(g.inputs))}{merge}", layer=path)
                return []
            return self._read(g, prev, who, loc, path)
        src = item.source
        names = src if isinstance(src, list) else [src]
        if not names:
            self.error("V003", f"{who}: from: lists no layer", item.at("from"),
                       "name what it reads, e.g. from: [a, b], or leave from: out to read the layer above",
                       layer=path)
            return []
        out: list[str] = []
        for i, name in enumerate(names):
            at = item.source_at(i)
            if not isinstance(name, str):
                self.error("V003", f"{who}: from: expects layer or input names, got {name!r}", at,
                           self._by_position_hint(g, names, prev), layer=path)
                return []
            node = g.node(producer(name))
            if name in g.inputs or (node is not None and (node.sub is None or name == node.name)):
                ref = self._read(g, name, who, at, path)
                if not ref:
                    return []
                out.extend(ref)
                continue
            if name == path.rsplit(".", 1)[-1]:
                self.error("G002", f"{who} reads from itself", at, "point from: at an earlier layer", layer=path)
                return []
            if self._rejected and name in self._rejected[-1]:
                return []  # its bad name was reported; reading it is not a second mistake
            if self._declared and name in self._declared[-1]:
                self.error("G002", f"{who} reads from '{name}', which is defined after it", at,
                           f"move '{name}' above this layer; layers run in the order written", layer=path)
                return []
            if self._omitted and name in self._omitted[-1]:
                key, cond = self._omitted[-1][name]
                where = f" (line {cond.line})" if cond is not None else ""
                why = f"by its when:{where}" if key == "when" else f"since its repeat: is 0{where}, no copies"
                same = (f"the same when: as '{name}'" if key == "when" else
                        f"a when: that is false where '{name}' has no copies")
                self.error("G001", f"{who} reads from '{name}', which is left out here {why}", at,
                           f"give this layer {same}, or write another layer named "
                           f"'{name}' for when the condition is false (an Identity passes its input on)",
                           layer=path)
                return []
            self.error("G001", f"{who} reads from '{name}', which is not an input or an earlier layer", at,
                       inside_block_hint(g, name) or _readable_hint(name, [*g.inputs, *(n.name for n in g.nodes)]),
                       layer=path)
            return []
        return out

    def _read(self, g: Graph, name: str, who: str, at: Location | None, path: str) -> list[str]:
        """``[name]`` as the graph stores it, or [] once the reason it cannot be read is reported."""
        ref, problem = resolve_port(g, name)
        if problem is None:
            return [ref]
        code, why, fix = problem
        self.error(code, f"{who} {why}", at, fix, layer=path)
        return []

    def _group(self, g: Graph, item: LayerDecl, node: Node) -> Node:
        group = item.group
        assert group is not None
        ins = [g.value(s) for s in node.inputs]
        names = group.inputs
        block = group.block
        first = group.children[0] if group.children else None
        if block is None and first is not None and first.broken:
            return node  # the repeated item's own problem was reported: how many inputs it takes is unknown
        if block is None and first is not None and first.group is not None and len(first.group.inputs) > 1:
            # a repeat of a block of several inputs takes the block's inputs (the first chains)
            names, block = first.group.inputs, first.group.block
        if len(names) > 1 and len(ins) != len(names):
            repeated = group.block is None
            chained = " (the first goes through the copies one after another, every copy reads the others)" \
                if repeated else ""
            who = f"{block} '{node.path}' (repeat:)" if repeated else f"block '{node.path}'"
            self.error("G003", f"{who} takes {len(names)} inputs ({', '.join(names)}), got "
                       f"{len(ins)}", node.loc, f"list one layer or input per input of {block} in from:, in "
                       f"this order: {', '.join(names)}{chained}", layer=node.path)
            return node
        if len(ins) != len(names):
            if len(ins) > 1 and group.block is None:  # repeat: of a layer, which reads several inputs
                what = first.type if first is not None and "type" in first.keys else "layer"
                self.error("G003", f"{what} '{node.path}' has repeat:, so each copy reads the one before "
                           f"and it takes one input, got {len(ins)}", node.loc,
                           "drop repeat: (or merge the inputs first, then repeat the layer after the merge)",
                           layer=node.path)
            elif len(ins) > 1:
                self.error("G003", f"block '{node.path}' takes one input, got {len(ins)}", node.loc,
                           f"merge the branches with Concat or Add first, or name block '{group.block}''s inputs "
                           f"(inputs: [input, skip]: one name per input) and read each by its name in its layers",
                           layer=node.path)
            return node
        if any(t is None for t in ins):
            return node
        node.type = group.block or "repeat"
        if group.block is not None:
            self._read_input_shape(group.children, InputShape(ins[0].shape, str(ins[0])), node.path)
        node.sub = self.build(node.name, group.children, dict(zip(names, ins)), prefix=node.path + ".",  # type: ignore[arg-type]
                              block=group.block or "repeat", output=group.output, trainable=node.trainable)
        node.sub.block_args = dict(group.args)
        if node.ignore_inside:
            self._check_ignored_paths(node, item)
        if group.block is None:
            self._check_repeatable(node, item)
        out = node.sub.value(node.sub.outputs[0][1]) if node.sub.outputs else None
        if out is not None:
            params, _, macs, buffers = node.sub.totals()
            node.result = layers.LayerResult(out, dict(group.args), params, macs, buffers)
        return node

    def _read_input_shape(self, children: Layers, shape: InputShape, path: str) -> None:
        """Evaluate the block's ``${input_shape[...]}`` now that its input is known: in its own
        layers and the copies of a repeat among them (a nested block reads its own input)."""
        for decl in children:
            if decl.group is not None and decl.group.block is None:
                self._read_input_shape(decl.group.children, shape, path)
            if decl.broken or deferred_in(decl.params) is None:
                continue
            try:
                decl.params = resolve_deferred(decl.params, shape)
            except SpecError as err:
                self.error(err.code, err.message, err.loc, err.hint, layer=path)
                decl.broken = True

    def _check_repeatable(self, node: Node, item: LayerDecl) -> None:
        """A repeat chains its copies, calling each on the previous copy's output (nn.Sequential
        in PyTorch): an inline operation (Transpose…) has no module to chain, and an LSTM or
        attention is applied otherwise (it returns a tuple), so `compile` could not write it; say
        so where `check` sees it (the kind's declared ``form``)."""
        assert node.sub is not None
        leaf = node.sub.nodes[0] if node.sub.nodes else None
        while leaf is not None and leaf.sub is not None and leaf.sub.block == "repeat":  # repeat of a repeat
            leaf = leaf.sub.nodes[0] if leaf.sub.nodes else None
        if leaf is None or leaf.sub is not None or leaf.kind is None or leaf.result is None:
            return  # a block (its own class), or a layer already reported
        form = leaf.kind.applied(leaf.result.args)
        if form == "module":
            return
        why = "an inline operation with no module" if form == "inline" else "not called as module(x) in PyTorch"
        self.error("V003", f"{leaf.type} '{node.path}': repeat: chains copies with nn.Sequential, and "
                   f"{leaf.type} is {why}", item.at("repeat") or node.loc,
                   f"write the {leaf.type} once per copy, or put it in a block and repeat the block",
                   layer=node.path)


def inside_block_hint(g: Graph, name: str) -> str | None:
    """The fix for a reference to a layer inside a block instance (``enc.linear_1``), which
    only the block itself can read."""
    head = name.split(".", 1)[0]
    node = g.node(head) if "." in name else None
    if node is None or node.sub is None:
        return None
    inner = name.split(".", 1)[1]
    block = node.sub.block
    if block == "repeat":
        return (f"a layer inside the repeat '{head}' cannot be read from outside it: read '{head}' (its last "
                "copy's output), or write the copies out one by one")
    # A U-Net's encoder step is the usual case: the block's output goes on down while a layer
    # inside it is a skip, and a block gives one output.
    if "." in inner:  # inside a nested block: its own output: comes first
        return (f"a layer inside '{head}' cannot be read from outside it: read '{head}' (its block's output), "
                f"or make '{inner}' the output of each block it sits in (output: in block {block})")
    return (f"a layer inside '{head}' cannot be read from outside it: read '{head}' (its block's output), "
            f"or make that layer the block's output with output: {inner} in block {block}; to read both, write "
            f"the layers after '{inner}' outside the block")


def batchless_inputs(g: Graph, input_locs: dict[str, Location]) -> list[Diagnostic]:
    """G011 for each input whose every dim is a number: its first is then the batch, a fixed one."""
    out = []
    batched = {n: t for n, t in g.inputs.items() if t is not None and t.shape and isinstance(t.shape[0], Dim)}
    batch = batch_symbol(batched) if batched else None
    for name, t in g.inputs.items():
        if t is None or not t.shape or not all(isinstance(d, int) for d in t.shape):
            continue
        dims = ", ".join(str(d) for d in t.shape)
        rest = ", ".join(str(d) for d in t.shape[1:])
        if batch is not None:
            # beside inputs that take B samples, a fixed input is no batch of its own: every sample
            # reads the one tensor (a lookup table, a fixed mask), which is what some models want
            out.append(Diagnostic(
                "G011", f"input '{name}' [{dims}] has no batch dim while the other inputs take {batch} samples: "
                "every sample reads this one tensor", input_locs.get(name),
                f"write {name}: [{batch}, {dims}] if each sample has its own ({dims}); if it is one table shared by "
                "all samples, keep it (lint: {ignore: [G011]} silences this)", "warning"))
            continue
        fix = (f"write {name}: [B, {rest}] to take any number of samples" if t.shape[0] == 1 else
               f"write {name}: [B, {dims}] if ({dims}) is one sample (Keras' input_shape leaves the batch out)"
               + (f", or [B, {rest}] for any number of samples of ({rest})" if rest else ""))
        out.append(Diagnostic("G011", f"every dim of input '{name}' [{dims}] is fixed, so its first, {t.shape[0]}, "
                              f"is the batch: the model takes exactly {t.shape[0]} sample"
                              f"{'' if t.shape[0] == 1 else 's'} at a time", input_locs.get(name), fix, "warning"))
    return out


def mark_unused(g: Graph, input_locs: dict[str, Location] | None = None) -> list[Diagnostic]:
    """Warnings for inputs nothing reads and layers whose value never reaches an output
    (``input_locs``: where each input is declared, to point at it)."""
    used: set[str] = set()
    frontier = [src for _, src in g.outputs]
    by_name = {n.name: n for n in g.nodes}
    while frontier:
        name = frontier.pop()
        if name in used:
            continue
        used.add(name)
        name = producer(name)  # reading one output of a Split uses the Split
        used.add(name)
        if name in by_name:
            frontier.extend(by_name[name].inputs)
            # a module called again by use: (or whose weight a tie: shares) is needed to build it
            frontier.extend(x for x in (by_name[name].shares, by_name[name].tie) if x is not None)
    out: list[Diagnostic] = []
    for name in g.inputs:
        if name not in used and g.block is None:
            out.append(Diagnostic("G005", f"input '{name}' is never used", (input_locs or {}).get(name),
                                  f"remove it from inputs:, or read it with from: {name}", "warning"))
    for n in g.nodes:
        if n.name not in used and n.result is not None:
            out.append(Diagnostic("G007", f"the output of {n.type} '{n.path}' is never used", n.loc,
                                  "remove the layer, or list it under outputs:" if g.block is None else
                                  f"remove the layer, or make it the output: of block '{g.block}'",
                                  "warning", n.path))
        if n.sub is not None:  # a layer a block computes but never returns is just as dead
            out.extend(mark_unused(n.sub))
    return out


# Keys other tools (Keras' class_name, a block's name under block:) or a guess put the type under.
_TYPE_ELSEWHERE = ("block", "class_name", "layer", "kind", "class", "op", "layer_type")


def _type_hint(item: LayerDecl) -> str:
    for key in _TYPE_ELSEWHERE:
        value = item.params.get(key)
        if isinstance(value, str) and value.isidentifier():
            what = "a block is used by its name" if key == "block" else "the layer kind is named"
            return f"{what} under type: write {{type: {value}, ...}} instead of {key}: {value}"
    return "e.g. {type: Conv2d, out_channels: 32, kernel_size: 3}"

