"""The summary table (like torchinfo / Keras ``summary()``) and the JSON check report.

Formatting only: counts come from each layer kind through the graph, never from
matching class names here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..graph.ir import Node
from ..shapes.dims import Dim, DimLike, add, fmt_shape
from ..shapes.tensor import TensorType

if TYPE_CHECKING:
    from ..spec import Spec

BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}


def shape_json(t: TensorType | None) -> list[int | str] | None:
    return None if t is None else [d if isinstance(d, int) else str(d) for d in t.shape]


def dim_json(d: DimLike) -> int | str:
    return d if isinstance(d, int) else str(d)


@dataclass
class Row:
    depth: int
    name: str  # qualified
    type: str
    shape: TensorType | None
    params: int | None
    trainable: int | None
    macs: DimLike | None
    is_group: bool = False
    shares: str | None = None  # the layer whose module it calls again (use:), or whose weight it ties (tie:)
    tie: str | None = None
    parts: tuple[TensorType, ...] = ()  # each output of a layer with several (Split); shape is the first

    def shape_text(self) -> str:
        return " | ".join(fmt_shape(t.shape) for t in self.parts) if self.parts else \
            fmt_shape(self.shape.shape) if self.shape else "?"


@dataclass
class Summary:
    name: str
    file: str
    inputs: dict[str, TensorType]
    rows: list[Row] = field(default_factory=list)
    outputs: list[tuple[str, TensorType | None]] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    buffers: int = 0
    macs: DimLike | None = 0  # None: the convention's count is not modelled for some layer
    ok: bool = True
    lora_params: int = 0  # the adapters' parameters, counted in total_params; they train, as do trainable: true layers
    lora_note: str = ""  # rank, alpha and targets, for the text summary
    convention: str = "specc"  # whose MACs the table shows (report/macs.py)
    macs_left_out: list[str] = field(default_factory=list)  # kinds that convention's count is not modelled for
    memory: dict[str, Any] | None = None  # one training step's memory (see specc.graph.memory)

    @classmethod
    def of(cls, spec: Spec, macs: str = "specc") -> Summary:
        g = spec.graph
        s = cls(spec.name, spec.path, dict(g.inputs) if g else {}, ok=spec.ok, convention=macs)
        if g is None:
            return s
        from .macs import batch_dim, layer_macs

        batch = batch_dim(g)
        from ..graph.lora import param_counts, plan

        lora = plan(spec)[0] if spec.ok else None
        adapters = {id(t.node): t.params(lora.rank) for t in lora.targets} if lora else {}

        def added(n: Node) -> int:  # adapter parameters in a layer, or in a group's layers
            return sum(adapters.get(id(c), 0) for c in n.sub.leaves()) if n.sub is not None else adapters.get(id(n), 0)

        for depth, n in g.walk():
            r = n.result
            trainable = (r.params if n.trainable else 0) if r and not n.is_group else None
            if r and n.is_group and n.sub is not None:
                trainable = n.sub.totals()[1]
            if lora is not None and trainable is not None:
                # The base model is frozen: its adapters train, and the layers trained in full.
                trainable = added(n) + sum(c.result.params for c in lora.full if c.result is not None and
                                           (c is n or c.path.startswith(n.path + ".")))
            m = layer_macs(n, macs, batch) if r else None
            if r and m is None and n.sub is None and n.type not in s.macs_left_out:
                s.macs_left_out.append(n.type)
            s.rows.append(Row(depth, n.path, n.type, n.out, r.params + added(n) if r else None, trainable,
                              m, n.is_group, _scoped(n.path, n.shares), _scoped(n.path, n.tie),
                              r.outs if r else ()))
        s.outputs = [(name, g.value(src)) for name, src in g.outputs]
        total, trainable, s.macs, s.buffers = g.totals()
        s.total_params, s.trainable_params, s.lora_params = param_counts(total, trainable, lora)
        if macs != "specc":
            s.macs = _sum([layer_macs(n, macs, batch) for n in g.nodes])
        s.memory = step_memory(spec)
        if lora is not None:
            s.lora_note = (f"rank {lora.rank}, alpha {lora.alpha:g}, on "
                           f"{', '.join(t.path for t in lora.targets) or 'no layer'}")
        return s

    # -- renderers -----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "inputs": [{"name": k, "shape": shape_json(v), "dtype": v.dtype} for k, v in self.inputs.items()],
            "layers": [{"name": r.name, "type": r.type, "depth": r.depth, "output_shape": shape_json(r.shape),
                        "params": r.params, "trainable_params": r.trainable,
                        "macs": None if r.macs is None else dim_json(r.macs), "group": r.is_group,
                        "shares": r.shares, "tied_to": r.tie,
                        **({"output_shapes": [shape_json(t) for t in r.parts]} if r.parts else {})}
                       for r in self.rows],
            "outputs": [{"name": n, "shape": shape_json(t)} for n, t in self.outputs],
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.total_params - self.trainable_params,
            "lora_params": self.lora_params,
            "buffers": self.buffers,
            "macs_per_sample": None if self.macs is None else dim_json(self.macs),
            "macs_convention": self.convention,
            "macs_not_modelled": self.macs_left_out,
            "params_bytes": self.total_params * 4,
            "training_memory": self.memory,
        }

    def render(self, width: int = 100) -> str:
        header = ("Layer", "Type", "Output shape", "Params", "Trainable", "MACs/sample")
        table: list[tuple[str, ...]] = []
        for name, t in self.inputs.items():
            table.append((name, f"Input[{t.dtype}]", fmt_shape(t.shape), "-", "-", "-"))
        for r in self.rows:
            label = "  " * r.depth + r.name.rsplit(".", 1)[-1] if r.depth else r.name
            table.append((label, r.type, r.shape_text(),
                          format_count(r.params), format_count(r.trainable), format_macs(r.macs)))
        widths = [max(len(header[i]), *(len(row[i]) for row in table)) for i in range(len(header))]
        widths[2] = min(widths[2], 40)
        right = {3, 4, 5}

        def line(cells: tuple[str, ...]) -> str:
            return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

        rule = "─" * len(line(header))
        out = [f"{self.name}  ({self.file})", rule, line(header), rule]
        out += [line(row) for row in table]
        out.append(rule)
        calls = {r.name for r in self.rows if r.shares}
        # inside a block that is itself a second call, a use: is part of that call: not listed again
        shared = [f"{r.name} calls {r.shares}" for r in self.rows
                  if r.shares and not any(".".join(r.name.split(".")[:i]) in calls for i in range(1, r.depth + 1))]
        shared += [f"{r.name}.weight is {r.tie}.weight" for r in self.rows if r.tie]
        if shared:
            out.append(f"Shared weights:        {'; '.join(shared)} (each tensor counted once; MACs per call)")
        nontrain = self.total_params - self.trainable_params
        if any(r.params is None for r in self.rows):  # a spec with errors: what is known, not a total of 0
            unknown = sum(r.params is None for r in self.rows)
            out.append(f"Total params:          ? ({self.total_params:,} in the layers known; {unknown} unknown "
                       "until the errors above are fixed)")
            out += [f"Outputs:               {self._outputs()}", rule]
            return "\n".join(out)
        out.append(f"Total params:          {self.total_params:,}")
        out.append(f"Trainable params:      {self.trainable_params:,}")
        out.append(f"Non-trainable params:  {nontrain:,}")
        if self.lora_note:
            others = self.trainable_params - self.lora_params
            out.append(f"LoRA adapter params:   {self.lora_params:,} ({self.lora_note}); "
                       + (f"they train with {others:,} of layers marked trainable: true" if others else
                          "only they train"))
        if self.buffers:
            out.append(f"Buffers:               {self.buffers:,} (e.g. BatchNorm running stats)")
        whose = "" if self.convention == "specc" else f" (as {self.convention} counts them)"
        out.append(f"MACs per sample:       {format_macs(self.macs, human=True)}{whose}")
        if self.macs_left_out:
            out.append(f"                       ? where {self.convention}'s count is not modelled: "
                       f"{', '.join(self.macs_left_out)}")
        out.append(f"Params size (float32): {_bytes(self.total_params * 4)}")
        out += self._memory_lines()
        out.append(f"Outputs:               {self._outputs()}")
        out.append(rule)
        return "\n".join(out)


    def _memory_lines(self) -> list[str]:
        m = self.memory
        if m is None:
            return []
        batch = f"batch_size {m['batch_size']}" if m["batch_size"] else "one sample"
        out = [f"Training step ({batch}, {m['optimizer']}, {m['precision']}):",
               f"  parameters + buffers {_size(m['params_bytes'])}",
               f"  gradients            {_size(m['grads_bytes'])}",
               f"  optimizer state      {_size(m['optimizer_bytes'])}",
               f"  activations saved    {_size(m['activations_bytes'])}"
               + (f" ({_size(m['activations_per_sample_bytes'])} per sample)" if m["batch_size"] else ""),
               f"  total                {_size(m['total_bytes'])}"]
        if m["symbols"]:
            out.append(f"  (bytes, by the size of {', '.join(m['symbols'])}; export: sizes: gives them a size)")
        return out

    def _outputs(self) -> str:
        return ", ".join(f"{n} {fmt_shape(t.shape) if t else '?'}" for n, t in self.outputs)


def _sum(values: list[DimLike | None]) -> DimLike | None:
    total: DimLike = 0
    for v in values:
        if v is None:
            return None
        total = add(total, v)
    return total


def _scoped(path: str, local: str | None) -> str | None:
    """A name local to ``path``'s graph as a path (``blk.again`` shares ``fc`` -> ``blk.fc``)."""
    if local is None:
        return None
    head, dot, _ = path.rpartition(".")
    return f"{head}{dot}{local}"


def format_count(n: int | None) -> str:
    """A count with thousands separators; ? when unknown (the summary table, LSP hovers)."""
    return "?" if n is None else f"{n:,}"


def format_macs(m: DimLike | None, human: bool = False) -> str:
    """MACs per sample: a number, a symbolic expression, or ?; ``human`` adds K/M/G."""
    if m is None:
        return "?"
    if isinstance(m, Dim):
        return str(m)
    if human:
        for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
            if m >= scale:
                return f"{m:,} ({m / scale:.2f} {unit})"
    return f"{m:,}"


def step_memory(spec: Spec) -> dict[str, Any] | None:
    """One training step's memory at the train section's batch_size (bytes; a symbolic size still
    free is left in the expression, as a string)."""
    from ..graph.memory import partial, spec_memory, step_sizes, symbols

    est = spec_memory(spec)
    if est is None:
        return None
    doc = spec.document
    batch = doc.train.batch_size if doc is not None and doc.train is not None else 0
    env = step_sizes(spec, batch or 1)
    acts = partial(est.activations, env)
    one = partial(est.activations, {**env, **({est.batch: 1} if est.batch else {})})
    fixed = est.params + est.grads + est.optimizer
    return {"batch_size": batch or None, "precision": est.precision, "optimizer": est.optimizer_note,
            "params_bytes": est.params, "grads_bytes": est.grads, "optimizer_bytes": est.optimizer,
            "activations_bytes": dim_json(acts), "activations_per_sample_bytes": dim_json(one),
            "total_bytes": dim_json(add(fixed, acts)), "symbols": sorted(symbols(acts))}


def _size(n: int | str) -> str:
    """Bytes as people read them (KB, MB, GB: powers of 1000, as the params size line); an
    expression in a symbol as it is."""
    if isinstance(n, str):
        return f"{n} bytes"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def _bytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.2f} KB"


def check_report(spec: Spec, macs: str = "specc") -> dict[str, Any]:
    s = Summary.of(spec, macs)
    js = s.to_json()
    return {
        "ok": spec.ok,
        "file": spec.path,
        "name": spec.name,
        "diagnostics": [d.to_json() for d in spec.diagnostics],
        "inputs": js["inputs"],
        "layers": [{k: row[k] for k in ("name", "type", "output_shape", "params", "depth", "macs", "shares",
                                        "tied_to")}
                   for row in js["layers"]],
        "outputs": js["outputs"],
        "total_params": s.total_params,
        "trainable_params": s.trainable_params,
        "lora_params": s.lora_params,
        "macs_per_sample": js["macs_per_sample"],
        "macs_convention": s.convention,
    }
