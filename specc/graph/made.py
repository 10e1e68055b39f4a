"""V178: MADE's masked Linears chained so that the model stays autoregressive.

A ``made:`` Linear masks its weight by degrees it assigns from the unit's position alone (the inputs
1..D, hidden unit k k % (D - 1) + 1, each input's outputs side by side), on the assumption that the
units a hidden or output layer reads are the hidden units of a MADE layer of the same D. Anything else
between them breaks that assumption without an error anywhere: a plain Linear, a LayerNorm or a Softmax
over the units (each then depends on every input), a Concat or a Reshape (the positions move), a MADE
layer of another D, a layer after an output layer, or the inputs read as hidden units. The model checks,
trains and gives a density that is not one (output d reads input d or later). The input layer reads
whatever it is given as its inputs (the order the MADE is autoregressive in): a flow's permutation or
LU-decomposed Linear before it is MAF's stack, not a mistake.

Walked over the built graph, blocks and repeats seen through: each value carries the degrees of its
last dim, kept by elementwise layers (activations, dropout, a per-feature BatchNorm, sums and
products of values of the same degrees) and lost by anything else. A value that does not depend on
the inputs a MADE input layer reads (a conditioning context, nflows' context_features) has no
degrees to lose: it may be added to the hidden units.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import Diagnostic
from .ir import Graph, Node, producer

# Layers that compute each unit from the same unit alone (per-feature parameters at most)
_MIXING_ACTIVATIONS = ("Softmax", "LogSoftmax", "Sparsemax", "GLU")
_ELEMENTWISE = ("Identity", "Add", "Sub", "Mul", "Div", "Cast")


@dataclass(frozen=True)
class _Degrees:
    # "inputs" (1..n by position), "hidden", "output", "mixed", "free" (no AR input behind it), "reported"
    # (after a MADE layer already refused: what follows it is judged once that one is fixed)
    kind: str
    features: int = 0  # D of a MADE layer's hidden or output units
    by: Node | None = None  # the layer that gave these degrees (or mixed them)
    deps: frozenset[str] = frozenset()  # the model inputs the value depends on


def _leaves(g: Graph, env: dict[str, tuple[Node | None, str]], out: list[tuple[Node, list[str]]]) -> None:
    """Every leaf with the keys of the values it reads, blocks and repeats seen through."""
    for n in g.nodes:
        ins = [env[producer(s)][1] for s in n.inputs if producer(s) in env]
        if n.sub is not None:
            inner = dict(zip(n.sub.inputs, ((None, k) for k in ins)))
            _leaves(n.sub, inner, out)
            if n.sub.outputs and producer(n.sub.outputs[0][1]) in inner:
                env[n.name] = inner[producer(n.sub.outputs[0][1])]
            continue
        key = f"#{len(out)}"
        out.append((n, ins))
        env[n.name] = (n, key)


def _elementwise(n: Node) -> bool:
    family = type(n.kind).__module__.rsplit(".", 1)[-1] if n.kind is not None else ""
    if family == "activation":
        return n.type not in _MIXING_ACTIVATIONS
    if family == "dropout" or n.type in _ELEMENTWISE:
        return True
    # BatchNorm1d over (B, F) normalises each feature alone; over (B, C, L) its batch statistics span L
    return n.type == "BatchNorm1d" and n.out is not None and n.out.rank == 2


def made_chains(graph: Graph) -> list[Diagnostic]:
    """V178 at each MADE Linear whose input does not carry the degrees its role assumes."""
    steps: list[tuple[Node, list[str]]] = []
    env: dict[str, tuple[Node | None, str]] = {name: (None, name) for name in graph.inputs}
    _leaves(graph, env, steps)
    if not any(n.result is not None and "made" in n.result.args for n, _ in steps):
        return []
    deps: dict[str, frozenset[str]] = {name: frozenset([name]) for name in graph.inputs}
    for i, (_, ins) in enumerate(steps):
        deps[f"#{i}"] = frozenset().union(*(deps.get(k, frozenset()) for k in ins))
    autoregressive = frozenset().union(*(deps.get(k, frozenset()) for n, ins in steps
                                         if n.result is not None and n.result.args.get("made", {}).get("role")
                                         == "input" for k in ins[:1]))
    degrees: dict[str, _Degrees] = {name: _Degrees("inputs" if name in autoregressive else "free",
                                                   deps=frozenset([name])) for name in graph.inputs}
    found: list[Diagnostic] = []
    seen: set[object] = set()
    for i, (n, ins) in enumerate(steps):
        got = [degrees.get(k, _Degrees("free")) for k in ins]
        made = n.result.args.get("made") if n.result is not None else None
        if made is not None and got:
            if ins[0] in graph.inputs:  # a model input read by a MADE layer is the inputs, whatever else reads it
                got[0] = _Degrees("inputs")
            if got[0].kind == "inputs" and made["role"] != "input" and n.result.args["in_features"] < made["features"]:
                got[0] = _Degrees("hidden", int(made["features"]))  # fewer than D: k % (D - 1) + 1 is k + 1 there
            why = None if got[0].kind == "reported" else _broken(made["role"], int(made["features"]), got[0])
            if why is not None:
                if n.loc not in seen:
                    seen.add(n.loc)
                    found.append(Diagnostic("V178", f"Linear '{n.path}': {why[0]}", n.field_locs.get("made", n.loc),
                                            why[1], "error", n.path))
                degrees[f"#{i}"] = _Degrees("reported")  # the layers after it follow once it is fixed
                continue
        degrees[f"#{i}"] = _after(n, got, made, deps[f"#{i}"] & autoregressive)
    return found


def _after(n: Node, got: list[_Degrees], made: dict[str, object] | None, ar: frozenset[str]) -> _Degrees:
    if any(g.kind == "reported" for g in got):
        return _Degrees("reported")
    if not ar:
        return _Degrees("free")
    if made is not None:
        role = "output" if made["role"] == "output" else "hidden"
        return _Degrees(role, int(str(made["features"])), n, ar)
    if _elementwise(n):
        carried = {(g.kind, g.features) for g in got if g.kind != "free"}
        if len(carried) == 1:
            kind, features = carried.pop()
            by = next(g.by for g in got if g.kind == kind)
            return _Degrees(kind, features, by, ar)
    return _Degrees("mixed", 0, n, ar)


def _who(n: Node | None) -> str:
    return f"{n.type} '{n.path}'" if n is not None else "the model input"


def _broken(role: str, features: int, x: _Degrees) -> tuple[str, str] | None:
    """(message, hint) where a MADE layer of ``role`` reads units of other degrees than it assumes."""
    if role == "input":
        # the input layer defines the order over whatever it reads: MAF and IAF stack MADEs with a permutation
        # or an LU-decomposed Linear between them, each MADE autoregressive in its own inputs
        return None
    if x.kind == "hidden" and x.features == features:
        return None
    fix_layers = "make the layers between the MADE layers elementwise (activations, dropout, BatchNorm1d, " \
                 "residual sums of MADE layers), as nflows' MADE does"
    if x.kind == "hidden":
        return (f"its made: has features: {features}, but the hidden units it reads come from {_who(x.by)}, a MADE "
                f"layer of features: {x.features}: the two number their units' degrees differently",
                f"set made: {{features: {x.features}, role: {role}}} (one D for the whole MADE)")
    if x.kind == "inputs":
        if role == "hidden":
            return ("a MADE hidden layer reads the model's inputs themselves, but numbers them as hidden units "
                    f"(k % {features - 1} + 1), so input {features} reaches the units of degree 1",
                    f"set made: {{features: {features}, role: input}}")
        return ("a MADE output layer reads the model's inputs themselves, but numbers them as hidden units "
                f"(k % {features - 1} + 1), so output 2 reads input {features}",
                f"add a MADE input layer before it: - {{type: Linear, out_features: {2 * features}, made: "
                f"{{features: {features}, role: input}}}} (nflows' MADE starts with one)")
    if x.kind == "output":
        return (f"it reads the outputs of the MADE output layer {_who(x.by)}, whose degrees are not hidden units' "
                "(each input's outputs side by side)",
                f"only the last MADE layer has role output: give '{x.by.path if x.by else ''}' made: "
                f"{{features: {x.features}, role: hidden}}")
    if x.kind == "free":
        return ("a MADE layer of role " + role + " reads no MADE layer's units: nothing before it reads the inputs "
                "through a MADE input layer", f"put a Linear with made: {{features: {features}, role: input}} "
                "first, reading the inputs")
    how = ("combines from values of different degrees (a MADE layer's units with the inputs, or with units of "
           "another layer)" if x.by is not None and _elementwise(x.by) else
           "mixed (each depends on every unit before it)")
    return (f"it reads units that {_who(x.by)} {how}, not a MADE layer's hidden units, so output d depends on "
            "input d or a later one: the model is no longer autoregressive",
            f"remove '{x.by.path if x.by else ''}' or {fix_layers}")
