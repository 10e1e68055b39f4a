"""Run a spec's generated module and compare what PyTorch computes with what specc inferred.

Shared by tests/test_emit.py and tests/test_differential.py.  The module under test is the
very one ``specc.build`` returns (the generated source imported from the cache folder);
forward hooks on every submodule that stands for a spec layer record the tensors it reads
and returns, keyed by the layer's path, and those are compared with the static shapes
evaluated at the sizes the inputs were made with.

Layers written inline (``a + b``, ``x.mean(dim=2)``) and layers whose module output is not
their value (an LSTM's ``self.lstm(x)[0]``) have no module output to hook: their values
are checked where the next layers read them (a hooked module's inputs) or where the model
returns them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

import specc
from specc.backends.torch_build import batch_symbols, build_module, example_inputs, symbol_sizes
from specc.graph.ir import Graph, Node, port_index, producer
from specc.shapes.dims import evaluate
from specc.targets.torch.lower import forward_expr, has_module, init_expr

INPUT = "input:"  # key prefix of the model's inputs (node paths never contain ':')


@dataclass
class Site:
    """A spec layer in the graph, with the keys of the values it reads."""

    node: Node
    reads: list[str]
    module: str  # the submodule that computes it: a use: item's is the module it calls again

    @property
    def has_module(self) -> bool:
        # a TimeDistributed of an inline operation (Select) constructs nothing, though its kind has a class
        n = self.node
        return n.sub is not None or (n.kind is not None and n.result is not None and has_module(n.kind)
                                     and init_expr(n.kind, n.result.args) is not None)

    @property
    def direct(self) -> bool:
        """Whether ``forward`` writes it as ``self.<name>(inputs...)``: the module's inputs and
        output are then exactly the layer's inputs and value."""
        n = self.node
        if n.sub is not None:
            return True
        if n.kind is None or n.result is None or not self.has_module:
            return False
        module = f"self.{n.name}"
        ins = [f"v{i}" for i in range(len(n.inputs))]
        return forward_expr(n.kind, module, ins, n.result.args) == f"{module}({', '.join(ins)})"


def sites(g: Graph, scope: dict[str, str] | None = None, prefix: str = "") -> Iterator[Site]:
    """Every node of ``g`` and of its sub-graphs, depth-first (the order forward calls them), with
    global keys for its reads and its module's path under ``prefix``."""
    keys = dict(scope) if scope is not None else {name: INPUT + name for name in g.inputs}
    for n in g.nodes:
        reads = [_key(keys, s) for s in n.inputs]
        keys[n.name] = n.path
        module = f"{prefix}{n.shares or n.name}"
        yield Site(n, reads, module)
        if n.sub is not None:
            yield from sites(n.sub, {"input": reads[0]}, module + ".")


def _key(keys: dict[str, str], ref: str) -> str:
    """The global key of a value: one output of a Split is its path and the output's index."""
    index = port_index(ref)
    return keys[ref] if index is None else f"{keys[producer(ref)]}.{index}"


def static_shapes(spec: specc.Spec, env: dict[str, int]) -> dict[str, tuple[tuple[int, ...], str]]:
    """(shape, dtype) of every value of the graph at the sizes ``env``, by key."""
    g = spec.graph
    assert g is not None
    out = {INPUT + name: (tuple(evaluate(d, env) for d in t.shape), t.dtype) for name, t in g.inputs.items()}
    for site in sites(g):
        t = site.node.out
        assert t is not None, site.node.path
        out[site.node.path] = (tuple(evaluate(d, env) for d in t.shape), t.dtype)
        for i, part in enumerate(site.node.result.outs if site.node.result else ()):
            out[f"{site.node.path}.{i}"] = (tuple(evaluate(d, env) for d in part.shape), part.dtype)
    return out


@dataclass
class Report:
    """What one forward pass showed: disagreements, and which layers were seen directly."""

    problems: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # keys whose runtime value was observed
    unseen: list[str] = field(default_factory=list)  # layers only checked through what reads them


def _describe(t: Any) -> tuple[tuple[int, ...], str] | None:
    if not isinstance(t, torch.Tensor):
        return None
    return tuple(t.shape), str(t.dtype).removeprefix("torch.")


def run_and_compare(spec: specc.Spec, model: torch.nn.Module, sizes: dict[str, int]) -> Report:
    """One forward pass with every layer hooked, the symbols of the inputs at ``sizes``."""
    g = spec.graph
    assert g is not None
    env = symbol_sizes(spec, 2, sizes)
    expected = static_shapes(spec, env)
    report = Report()

    def observe(key: str, value: Any, what: str) -> None:
        got = _describe(value)
        if got is None:
            report.problems.append(f"{what} '{key}' is a {type(value).__name__}, not a tensor")
            return
        report.seen.add(key)
        if got != expected[key]:
            report.problems.append(f"{what} '{key}' at {env}: runtime {got}, static {expected[key]}")

    handles = []
    all_sites = list(sites(g))
    # A module shared by use: is called once per site, in the order of the sites.
    calls: dict[str, list[Site]] = {}
    try:
        for site in all_sites:
            if not site.has_module:
                continue
            try:
                model.get_submodule(site.module)
            except AttributeError:
                report.problems.append(f"layer '{site.node.path}' has no submodule '{site.module}'")
                continue
            if site.direct:
                calls.setdefault(site.module, []).append(site)
        for name, queue in calls.items():

            def hook(_m: torch.nn.Module, args: tuple[Any, ...], output: Any, queue: list[Site] = queue,
                     name: str = name) -> None:
                if not queue:
                    report.problems.append(f"'{name}' was called more often than the spec calls it")
                    return
                site = queue.pop(0)
                if len(args) != len(site.reads):
                    report.problems.append(f"'{site.node.path}' was called with {len(args)} inputs, "
                                           f"the spec gives it {len(site.reads)}")
                for key, value in zip(site.reads, args):
                    observe(key, value, f"input of '{site.node.path}':")
                parts = site.node.result.outs if site.node.result is not None else ()
                if parts and isinstance(output, tuple) and len(output) == len(parts):
                    # a module that gives several values (a MaxPool's values and indices): each part
                    for i, value in enumerate(output):
                        observe(f"{site.node.path}.{i}", value, "layer")
                    report.seen.add(site.node.path)
                else:
                    observe(site.node.path, output, "layer")

            handles.append(model.get_submodule(name).register_forward_hook(hook))
        inputs = example_inputs(spec, 2, env)
        for name, value in zip(g.inputs, inputs):
            observe(INPUT + name, value, "input")
        with torch.no_grad():
            out = model(*inputs)
    finally:
        for h in handles:
            h.remove()
    outs = out if isinstance(out, tuple) else (out,)
    if len(outs) != len(g.outputs):
        report.problems.append(f"model returned {len(outs)} values, the spec has {len(g.outputs)} outputs")
    key_of = {s.node.name: s.node.path for s in all_sites if s.node.path == s.node.name}
    key_of.update({name: INPUT + name for name in g.inputs})
    for (name, src), value in zip(g.outputs, outs):
        observe(_key(key_of, src), value, f"output {name}:")
    report.unseen = [s.node.path for s in all_sites if s.node.path not in report.seen]
    return report


def counts(spec: specc.Spec, model: torch.nn.Module) -> list[str]:
    """Parameter, trainable-parameter and buffer counts: static vs the built module."""
    assert spec.graph is not None
    params, trainable, _, buffers = spec.graph.totals()
    got = (sum(p.numel() for p in model.parameters()),
           sum(p.numel() for p in model.parameters() if p.requires_grad),
           sum(b.numel() for b in model.buffers()))
    problems = []
    for what, static, runtime in zip(("parameters", "trainable parameters", "buffers"),
                                     (params, trainable, buffers), got):
        if static != runtime:
            problems.append(f"{what}: static {static}, runtime {runtime}")
    return problems


def two_sizes(spec: specc.Spec) -> list[dict[str, int]]:
    """Batch 2 then 3; every other symbol of the inputs at the spec's size (export.sizes or
    the default) then that plus 3, so floors and odd sizes get exercised."""
    first = symbol_sizes(spec, 2)
    batch = batch_symbols(spec)
    return [first, {k: 3 if k in batch else v + 3 for k, v in first.items()}]


def verify(spec: specc.Spec, envs: list[dict[str, int]] | None = None,
           seed: int = 0) -> tuple[torch.nn.Module, list[str], list[str]]:
    """Build the generated module and compare it with the static graph at each of ``envs``
    (default: two batch sizes and two sizes of every other symbol).  Returns the model, the
    disagreements, and the layers seen only through what reads them."""
    assert spec.ok, "\n".join(str(d) for d in spec.errors)
    model = build_module(spec, seed).eval()
    problems = counts(spec, model)
    unseen: set[str] = set()
    for env in envs or two_sizes(spec):
        r = run_and_compare(spec, model, env)
        problems += r.problems
        unseen |= set(r.unseen)
    return model, problems, sorted(unseen)
