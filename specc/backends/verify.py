"""Verify an exported ONNX model against the spec and the PyTorch module it came from.

Three independent witnesses, each of which catches what the others miss:

1. ``onnx.checker`` with ``full_check`` — the file is a well-formed, type-correct model.
2. Shapes — the declared inputs/outputs carry the spec's shapes (symbols as named ``dim_param``,
   fixed sizes as ``dim_value``), and ONNX's own shape inference, run with the declared output
   shapes removed, never computes a fixed size where the spec has a symbol (a frozen axis).
3. Numbers — ONNX Runtime and PyTorch agree (shape, dtype, values within rtol/atol) at the export
   sizes and at two other sizes of every symbolic dim, so an axis the tracer froze at its
   example size shows up as a wrong shape or a failed run.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from ..shapes.dims import Dim, DimLike, evaluate, fmt_shape
from ..shapes.rules import SizeRule, nearest_fit, size_rules
from .errors import VerificationFailed
from .ort import create_session

if TYPE_CHECKING:
    import torch

RTOL, ATOL = 1e-3, 1e-5
DEFAULT_SIZE = 16  # example size of a non-batch symbol the spec gives no export size for


@dataclass(frozen=True)
class TensorSig:
    """What the spec says a model input or output is."""

    name: str
    shape: tuple[DimLike, ...]
    dtype: str = "float32"

    def at(self, env: Mapping[str, int]) -> tuple[int, ...]:
        return tuple(evaluate(d, env) for d in self.shape)


@dataclass
class Signature:
    inputs: list[TensorSig]
    outputs: list[TensorSig]
    # The model's batch symbol where the graph knows it (B of a sequence-first [T, B, F] input);
    # None: the symbol every input starts with.
    batch: str | None = None

    def symbols(self) -> list[str]:
        """Symbols of the inputs, in order of first appearance (outputs only combine them)."""
        seen: dict[str, None] = {}
        for t in self.inputs:
            for d in t.shape:
                if isinstance(d, Dim):
                    seen.update(dict.fromkeys(sorted(d.symbols())))
        return list(seen)

    @property
    def batch_symbol(self) -> str | None:
        """The batch symbol: the graph's, else the symbol every input starts with, when there is one."""
        if self.batch is not None:
            return self.batch
        firsts = {symbol_name(t.shape[0]) if t.shape else None for t in self.inputs}
        return next(iter(firsts)) if len(firsts) == 1 else None


def symbol_name(d: DimLike) -> str | None:
    """The name when ``d`` is a bare symbol (``B``), else None (ints, ``T - 2``)."""
    if isinstance(d, Dim) and len(d.terms) == 1:
        mono, coeff = d.terms[0]
        if coeff == 1 and len(mono) == 1 and hasattr(mono[0], "name"):
            return mono[0].name
    return None


def dynamic_axes(sig: Signature) -> dict[str, dict[int, str]]:
    """Axis names for every symbolic dim of every input and output, as the exporters want them."""
    out: dict[str, dict[int, str]] = {}
    for t in [*sig.inputs, *sig.outputs]:
        axes = {i: str(d) for i, d in enumerate(t.shape) if isinstance(d, Dim)}
        if axes:
            out[t.name] = axes
    return out


# -- sizes ---------------------------------------------------------------------------------------------------

EnvCheck = Callable[[Mapping[str, int]], bool]


def export_env(sig: Signature, batch: int, sizes: Mapping[str, int] | None = None,
               valid: EnvCheck | None = None) -> dict[str, int]:
    """Sizes of every symbol to trace the model with: the batch, the spec's export sizes, else a
    default that is doubled until every tensor of the model has positive sizes (and, within three
    doublings, every size that follows a symbol other than the batch is 2 or more)."""
    sizes = dict(sizes or {})
    # Each free symbol gets its own size (16, 17, …): with one shared size, a model that mixes
    # up T and S would trace and verify as if it were right.
    free = [s for s in sig.symbols() if s != sig.batch_symbol and s not in sizes]
    env = {s: batch if s == sig.batch_symbol else sizes[s] if s in sizes else DEFAULT_SIZE + free.index(s)
           for s in sig.symbols()}
    if valid is None or not free:
        return env

    def scaled(factor: float) -> dict[str, int]:
        return {**env, **{s: max(2, int((DEFAULT_SIZE + free.index(s)) * factor)) for s in free}}

    roomy = getattr(valid, "roomy", None)
    if roomy is not None and not roomy(env, sig.batch_symbol):
        # a few doublings at most: a size far past the default costs more than it proves
        for trial in (scaled(2 ** k) for k in range(1, 4)):
            if valid(trial) and roomy(trial, sig.batch_symbol):
                return trial
    if valid(env):
        return env
    # Larger sizes first (kernels and padding need room), then smaller ones (a table's max_len).
    for factor in [2 ** k for k in range(1, 11)] + [1 / 2, 1 / 4, 1 / 8]:
        trial = scaled(factor)
        if valid(trial):
            return trial
    # A symbol the layers allow few sizes of (T <= max_len and T >= a kernel): its nearest one.
    fitted = valid.fit(env) if isinstance(valid, SizeCheck) else env
    return fitted if valid(fitted) else env


def other_envs(sig: Signature, env0: Mapping[str, int], valid: EnvCheck | None = None) -> list[dict[str, int]]:
    """Two more size settings where every symbol differs from its export size (batch 1 first:
    the size tracers most like to specialise)."""
    envs = []
    for k in (0, 1):
        env = {}
        for s, v in env0.items():
            if s == sig.batch_symbol:
                env[s] = (1 if v != 1 else 2) if k == 0 else v + 2
            else:
                env[s] = v + 1 + 2 * k
        if valid is not None and not valid(env):
            env = _nearby(sig, env0, env, valid)
        envs.append(env)
    return envs


def _nearby(sig: Signature, env0: Mapping[str, int], env: dict[str, int], valid: EnvCheck) -> dict[str, int]:
    """The closest valid setting to ``env`` (larger first, then smaller) that still differs from the
    export sizes in every non-batch symbol; ``env`` itself when there is none."""
    for step in range(1, 65):
        for sign in (1, -1):
            trial = {s: v if s == sig.batch_symbol else max(1, v + sign * step) for s, v in env.items()}
            if all(trial[s] != env0[s] for s in trial if s != sig.batch_symbol) and valid(trial):
                return trial
    # Symbols moved together miss where one sits at its largest size and another at its smallest
    # (T = max_len, H = the least two convs take): move each on its own from the export sizes,
    # which are valid, to its nearest size that is valid there too (or keep its export size where
    # the layers allow no other: a position table of max_len 6 read by a conv that needs 6 steps).
    trial = dict(env)
    for s in (s for s in env if s != sig.batch_symbol):
        sizes = sorted((v for v in range(max(1, env[s] - 64), env[s] + 65) if v != env0[s]),
                       key=lambda v, s=s: (abs(v - env[s]), -v))
        trial[s] = next((v for v in sizes if valid({**env0, s: v})), env0[s])
    if valid(trial):
        return trial
    return env


def fmt_env(env: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in env.items()) or "fixed sizes"


# -- from a spec ---------------------------------------------------------------------------------------------

def signature_of(spec: Any) -> Signature:
    g = spec.graph
    inputs = [TensorSig(n, t.shape, t.dtype) for n, t in g.inputs.items()]
    outputs = []
    for out, src in g.outputs:
        t = g.value(src)
        outputs.append(TensorSig(out, t.shape, t.dtype))
    return Signature(inputs, outputs, g.batch)


def requirements(spec: Any) -> list[str]:
    """The minimum sizes the spec's layers need of its symbols, as text ("T >= 21 (…)")."""
    return list(dict.fromkeys(f"{r.text()} in {n.type} '{n.path}'" for n in spec.graph.leaves()
                              if n.result is not None for r in n.result.requires))


class SizeCheck:
    """Whether every tensor of a model has positive sizes at given symbol sizes, and every size a
    layer needs (reflection padding, an index along a symbolic dim, a position table) is there."""

    def __init__(self, rules: list[SizeRule]) -> None:
        self.rules = rules

    def __call__(self, env: Mapping[str, int]) -> bool:
        try:
            return all(evaluate(r.size, env) >= r.at_least for r in self.rules)
        except (KeyError, ZeroDivisionError):
            return False

    def fit(self, env: Mapping[str, int]) -> dict[str, int]:
        """``env`` with each symbol that breaks a rule moved to its nearest size that keeps them all."""
        return {**env, **nearest_fit(self.rules, env)}

    def roomy(self, env: Mapping[str, int], batch: str | None) -> bool:
        """Whether every size that varies with a symbol other than the batch is at least 2 at ``env``.
        Tracers specialise a size of 1 (broadcasting reads it as a constant; torch.export guards on it
        and its solver can fail: a SegFormer traced where a stage's map is 1x1), so a model is traced
        where none is when such sizes are near."""
        try:
            return all(evaluate(r.size, env) >= 2 for r in self.rules
                       if r.at_least == 1 and not isinstance(r.size, int) and r.size.symbols() - {batch})
        except (KeyError, ZeroDivisionError):
            return False


def sizes_valid(spec: Any) -> SizeCheck:
    return SizeCheck(size_rules(spec.graph))



# Half precision keeps 11 significant bits: ONNX Runtime and PyTorch round in other orders (a
# mean, a pool, an erf) and differ by a few of its ulps, far over float32's default tolerance.
HALF_TOLERANCES = (1e-2, 1e-3)


def _computes_in(graph: Any, dtypes: tuple[str, ...]) -> bool:
    """Whether some input or layer output of ``graph`` has one of ``dtypes``."""
    from ..graph.build import leaves_with_graph

    return any(t.dtype in dtypes for t in graph.inputs.values()) or any(
        any(t.dtype in dtypes for t in (n.result.outs or (n.result.out,)))
        for _, n in leaves_with_graph(graph) if n.result is not None)


def arbitrable(graph: Any) -> bool:
    """Whether the PyTorch module of ``graph`` run in float64 is the exact answer its float32 run
    approximates: not where a layer computes in half precision (a Cast in the module keeps its
    rounding whatever the module's dtype)."""
    return not _computes_in(graph, ("float16", "bfloat16"))


def tolerances(graph: Any, opts: Any) -> tuple[float, float]:
    """(rtol, atol) to verify with: the spec's export: settings; unwritten, float32's, or half
    precision's when some layer computes in float16, widened for a chaotic stack of Sin/Cos."""
    from ..lint.rules.chaotic_periodic_stack import tolerance_factor

    half = _computes_in(graph, ("float16",))
    wide = tolerance_factor(graph)  # stacked Sin/Cos of large scale: float32's last digits are noise (L034)
    default = tuple(t * wide for t in (HALF_TOLERANCES if half else (RTOL, ATOL)))
    written = opts.model_fields_set
    return (opts.rtol if "rtol" in written else default[0]), (opts.atol if "atol" in written else default[1])


# -- witnesses ----------------------------------------------------------------------------------------------------

def _dims(v: onnx.ValueInfoProto) -> list[int | str | None] | None:
    tt = v.type.tensor_type
    if not tt.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim]


def _onnx_dtype(dtype: str) -> int:
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _dtype_name(elem: int) -> str:
    return str(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem)))


def check_declared(model: onnx.ModelProto, sig: Signature) -> list[str]:
    """The model's inputs and outputs are the spec's: names, order, dtypes, and every axis."""
    problems: list[str] = []
    inits = {i.name for i in model.graph.initializer}
    pairs = (("input", [v for v in model.graph.input if v.name not in inits], sig.inputs),
             ("output", list(model.graph.output), sig.outputs))
    for role, values, expected in pairs:
        got = [v.name for v in values]
        want = [t.name for t in expected]
        if got != want:
            problems.append(f"the model's {role}s are {got}; the spec's are {want}")
            continue
        for v, t in zip(values, expected):
            problems += _check_value(role, v, t, inferred=False)
    return problems


def _ort_message(exc: BaseException) -> str:
    """ONNX Runtime's message without its source paths and C++ signatures."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = re.sub(r"\S*onnxruntime_src/\S+:\d+ .*?\)\s+(?=\S)", "", text, count=1)
    text = text.replace("Non-zero status code returned while running ", "")
    return text if len(text) <= 400 else text[:397] + "..."


def _check_value(role: str, v: onnx.ValueInfoProto, t: TensorSig, *, inferred: bool) -> list[str]:
    problems: list[str] = []
    where = f"{role} '{t.name}'" + (" (after ONNX shape inference)" if inferred else "")
    elem = v.type.tensor_type.elem_type
    if elem and elem != _onnx_dtype(t.dtype):
        problems.append(f"{where} is {_dtype_name(elem)}; the spec says {t.dtype}")
    dims = _dims(v)
    if dims is None:
        if not inferred:
            problems.append(f"{where} has no declared shape; the spec says {fmt_shape(t.shape)}")
        return problems
    if len(dims) != len(t.shape):
        return [*problems, f"{where} has rank {len(dims)} {_fmt(dims)}; the spec says {fmt_shape(t.shape)}"]
    for axis, (got, want) in enumerate(zip(dims, t.shape)):
        name = symbol_name(want)
        if isinstance(want, int):
            if isinstance(got, int) and got != want:
                problems.append(f"{where} axis {axis} is {got} {_fmt(dims)}; the spec says {want}")
            elif not inferred and not isinstance(got, int):
                problems.append(f"{where} axis {axis} is dynamic {_fmt(dims)}; the spec fixes it at {want}")
        elif isinstance(got, int):
            problems.append(f"{where} axis {axis} is frozen at {got} {_fmt(dims)}; the spec has {want} there "
                            "(the exporter baked in the example size)")
        elif not inferred and got is None:
            problems.append(f"{where} axis {axis} has no name {_fmt(dims)}; the spec has {want}")
        elif not inferred and name is not None and got != name:
            problems.append(f"{where} axis {axis} is named '{got}' {_fmt(dims)}; the spec calls it '{name}'")
    return problems


def _fmt(dims: Sequence[int | str | None]) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"


def weightless(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with the data of its large initialisers left out (types and shapes kept): shape
    inference needs only those and the small constants that give shapes, and serialising VGG's
    500 MB for each inference pass cost seconds."""
    light = onnx.ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    light.metadata_props.extend(model.metadata_props)
    g, lg = model.graph, light.graph
    lg.name = g.name
    lg.node.extend(g.node)
    lg.input.extend(g.input)
    lg.output.extend(g.output)
    lg.value_info.extend(g.value_info)
    for t in g.initializer:
        big = t.data_location == onnx.TensorProto.EXTERNAL or len(t.raw_data) > 4096
        lg.initializer.append(onnx.TensorProto(name=t.name, dims=t.dims, data_type=t.data_type) if big else t)
    return light


def check_inferred(model: onnx.ModelProto, sig: Signature, skip: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Run ONNX shape inference with the declared output shapes removed, and compare (outputs
    in ``skip`` already have a reported problem)."""
    return inferred_outputs(model, sig, skip)[0]


def inferred_outputs(model: onnx.ModelProto, sig: Signature,
                     skip: set[str] | frozenset[str] = frozenset()) -> tuple[list[str], onnx.ModelProto | None]:
    """:func:`check_inferred`'s problems, and the model as inferred (None where inference failed),
    whose inner values later checks read: one inference pass serves both."""
    stripped = onnx.ModelProto()
    stripped.CopyFrom(model)
    for out in stripped.graph.output:
        out.type.tensor_type.ClearField("shape")
    del stripped.graph.value_info[:]
    try:
        inferred = onnx.shape_inference.infer_shapes(stripped, check_type=True, strict_mode=True, data_prop=True)
    except Exception as exc:  # noqa: BLE001 -- onnx raises InferenceError or ValidationError
        return [f"ONNX shape inference fails on the model: {str(exc).strip().splitlines()[0]}"], None
    problems: list[str] = []
    by_name = {t.name: t for t in sig.outputs}
    for v in inferred.graph.output:
        if v.name in by_name and v.name not in skip:
            problems += _check_value("output", v, by_name[v.name], inferred=True)
    return problems, inferred


def _checker(path: Path) -> list[str]:
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:  # noqa: BLE001 -- ValidationError, InferenceError, or a protobuf error
        return [f"onnx.checker rejects the model: {str(exc).strip().splitlines()[0]}"]
    return []


@dataclass
class Run:
    env: dict[str, int]
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    nan_in_reference: dict[str, int] = field(default_factory=dict)  # values PyTorch gives as NaN, ORT not
    # outputs whose values only the float64 arbiter accepted: PyTorch float32's own largest error there
    rounding: dict[str, float] = field(default_factory=dict)


@dataclass
class VerifyReport:
    checker: str = "skipped"
    shapes: str = "skipped"
    runs: list[Run] = field(default_factory=list)
    against: str = "PyTorch"  # what ONNX Runtime's outputs were compared with ("shapes only": nothing)

    def to_json(self) -> dict[str, Any]:
        return {"checker": self.checker, "shapes": self.shapes, "against": self.against,
                "runs": [{"sizes": r.env, "max_abs_diff": r.max_abs_diff, "nan_in_reference": r.nan_in_reference,
                          "float32_rounding": r.rounding} for r in self.runs]}

    def text(self) -> str:
        sizes = "; ".join(fmt_env(r.env) for r in self.runs)
        worst = max((d for r in self.runs for d in r.max_abs_diff.values()), default=0.0)
        if not any(r.max_abs_diff for r in self.runs) and self.against != "PyTorch":
            return (f"onnx.checker {self.checker}; shapes {self.shapes}; "
                    f"ONNX Runtime runs at {sizes} with the spec's output shapes ({self.against})")
        nans = sum(n for r in self.runs for n in r.nan_in_reference.values())
        skipped = (f"; {nans} values {self.against} gives as NaN, made inside the model (0/0, see lint L019), "
                   "are numbers in ONNX Runtime, whose max pools skip NaN: not compared") if nans else ""
        own = max((e for r in self.runs for e in r.rounding.values()), default=0.0)
        rounded = (f"; the values past the tolerance are float32's rounding: ONNX Runtime is within "
                   f"{ROUNDING_FACTOR:g} times {self.against} float32's own error ({own:.1e}) of the float64 "
                   "result") if own else ""
        return (f"onnx.checker {self.checker}; shapes {self.shapes}; "
                f"ONNX Runtime = {self.against} at {sizes} (max |diff| {worst:.1e}){skipped}{rounded}")


# What a run is compared with: at given sizes, the inputs fed to ONNX Runtime and, per output, the
# expected array with its dtype's name (None: no reference; only shapes and dtypes are checked).
Reference = Callable[[dict[str, int]], tuple[dict[str, np.ndarray], "list[tuple[np.ndarray, str]] | None"]]


# The exact answer the reference approximates: given a run's feeds, each output in float64; where it
# cannot be had (the module fails in float64, or memory runs out), why not, in words.
Arbiter = Callable[[dict[str, np.ndarray]], "list[np.ndarray] | str"]

# How many times farther from the float64 result than PyTorch float32 is ONNX Runtime may be and
# still be rounding, not a wrong lowering: the two sum and reduce in other orders, and an
# ill-conditioned layer (a norm over values that barely vary: its 1/σ) multiplies either error alike.
ROUNDING_FACTOR = 4.0


def float64_arbiter(module: torch.nn.Module, sig: Signature) -> Arbiter:
    """``module`` run in float64 with the same weights (a copy, made at the first call) as the
    arbiter of a difference past the tolerance: see :func:`beyond_rounding`."""
    import copy

    import torch

    twin: list[torch.nn.Module] = []

    def exact(feeds: dict[str, np.ndarray]) -> list[np.ndarray] | str:
        try:
            if not twin:
                twin.append(copy.deepcopy(module).double().eval())
            inputs = [torch.from_numpy(feeds[t.name].astype(np.float64) if feeds[t.name].dtype.kind == "f"
                                       else feeds[t.name]) for t in sig.inputs]
            with torch.inference_mode():
                out = twin[0](*inputs)
        except Exception as exc:  # noqa: BLE001 -- a module that cannot run in float64 has no arbiter: the verdict stands
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return f"{type(exc).__name__}: {first}"[:200] if first else type(exc).__name__
        outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
        return [o.detach().cpu().double().numpy() if o.is_floating_point() else o.detach().cpu().numpy()
                for o in outs]

    return exact


def beyond_rounding(got: np.ndarray, ref: np.ndarray, exact: np.ndarray | None, rtol: float,
                    atol: float) -> tuple[np.ndarray, float]:
    """Where ``got`` (ONNX Runtime) is not within tolerance of ``ref`` (PyTorch float32) and,
    given the float64 result ``exact``, not within tolerance plus ROUNDING_FACTOR times
    PyTorch's own largest float32 error either; with that error (0.0 without ``exact``).

    A difference is the exporter's fault only where ONNX Runtime is much farther from the exact
    answer than PyTorch float32 is: a norm over nearly constant values divides float32's rounding
    by their tiny σ in both, and the two then differ past any fixed tolerance."""
    bad = ~np.isclose(got, ref, rtol=rtol, atol=atol, equal_nan=True)
    if exact is None or not bad.any() or exact.shape != got.shape or exact.dtype.kind != "f":
        return bad, 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        own = np.abs(ref.astype(np.float64) - exact)
        finite = own[np.isfinite(own)]
        error = float(finite.max()) if finite.size else 0.0
        near = np.abs(got.astype(np.float64) - exact) <= atol + rtol * np.abs(exact) + ROUNDING_FACTOR * error
    return bad & ~near, error


def torch_reference(module: torch.nn.Module, sig: Signature, make_inputs: Callable[[dict[str, int]], Any]) -> Reference:
    """The PyTorch module as the reference, on the example inputs ``make_inputs`` gives."""
    import torch

    def run(env: dict[str, int]) -> tuple[dict[str, np.ndarray], list[tuple[np.ndarray, str]]]:
        inputs = tuple(make_inputs(env))
        feeds = {t.name: x.detach().cpu().numpy() for t, x in zip(sig.inputs, inputs)}
        with torch.inference_mode():
            out = module(*inputs)
        outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
        return feeds, [(_numpy(r), str(r.dtype).removeprefix("torch.")) for r in outs]

    return run


def _numpy(t: torch.Tensor) -> np.ndarray:
    import torch

    t = t.detach().cpu()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()


def compare_runs(path: Path, sig: Signature, reference: Reference, envs: Sequence[dict[str, int]],
                 export_sizes: Mapping[str, int], *, rtol: float = RTOL, atol: float = ATOL,
                 against: str = "PyTorch", session: Started | None = None,
                 arbiter: Arbiter | None = None) -> tuple[list[Run], list[str]]:
    """ONNX Runtime (CPU: deterministic, always there) against ``reference`` at each size setting;
    with no reference values, the outputs' shapes and dtypes against the spec's.  ``session``: one
    already being created on ``path`` (see :func:`session_started`): the references are computed
    first, while it is built; ``arbiter``: the reference in float64, asked where a value misses the
    tolerance (see :func:`beyond_rounding`)."""
    problems: list[str] = []
    references: list[tuple[dict[str, int], Any]] = []
    for env in envs:
        try:
            references.append((env, reference(env)))
        except Exception as exc:  # noqa: BLE001 -- the reference's own failure, reported as such
            problems.append(f"the {against} module itself fails at {fmt_env(env)}: "
                            f"{str(exc).strip().splitlines()[0]} — it only works at some sizes of its symbolic dims")
    sess = session.result() if session is not None else _session(path)
    names = [o.name for o in sess.get_outputs()]
    runs: list[Run] = []
    for env, (feeds, expected) in references:
        try:
            got = sess.run(names, feeds)
        except Exception as exc:  # noqa: BLE001 -- onnxruntime's own exception types
            problems.append(f"ONNX Runtime fails at {fmt_env(env)} (export sizes {fmt_env(export_sizes)}): "
                            f"{_ort_message(exc)} — an axis was probably frozen at its export size")
            continue
        run = Run(dict(env))
        exact: list[list[np.ndarray] | str] = []  # the arbiter's outputs or why not, asked once per run if at all
        refs: list[tuple[np.ndarray, str] | None] = list(expected) if expected is not None else [None] * len(got)
        for k, (t, ref, arr) in enumerate(zip(sig.outputs, refs, got)):
            want_shape = t.at(env)
            where = f"output '{t.name}' at {fmt_env(env)}"
            if ref is not None and tuple(ref[0].shape) != want_shape:
                problems.append(f"{where}: {against} gives shape {tuple(ref[0].shape)}; the spec says {want_shape}")
            if tuple(arr.shape) != want_shape:
                frozen = [str(t.shape[i]) for i, (a, w) in enumerate(zip(arr.shape, want_shape))
                          if a != w and a == evaluate(t.shape[i], export_sizes)] if arr.ndim == len(want_shape) else []
                why = f" — {', '.join(frozen)} stayed at its export size" if frozen else ""
                problems.append(f"{where}: ONNX Runtime gives shape {tuple(arr.shape)}; the spec says "
                                f"{want_shape}{why}")
                continue
            if str(arr.dtype) != t.dtype or (ref is not None and ref[1] != t.dtype):
                theirs = f", {against} {ref[1]}" if ref is not None else ""
                problems.append(f"{where}: dtypes ONNX Runtime {arr.dtype}{theirs}; the spec says {t.dtype}")
                continue
            if ref is None:
                continue
            ref_np = ref[0]
            if ref_np.shape != arr.shape:
                continue
            if ref_np.dtype.kind == "f" and arr.dtype.kind == "f":
                # A NaN the model makes (0/0 upstream: lint L019) that PyTorch carries on and ONNX
                # Runtime's max pools drop: those values have no answer to compare.  A NaN only ONNX
                # Runtime gives is compared, and fails.
                lost = np.isnan(ref_np) & ~np.isnan(arr)
                if lost.any():
                    run.nan_in_reference[t.name] = int(lost.sum())
                    ref_np = np.where(lost, arr, ref_np)
                if ref_np.size and not np.isfinite(ref_np).any() and not np.isfinite(arr).any():
                    # agreeing on nothing but nan and inf verifies nothing: weights that blew up in
                    # training (a run that diverged on its last steps) export "verified" otherwise
                    problems.append(f"{where}: PyTorch and ONNX Runtime give nan or inf for all {arr.size} "
                                    "values, so there is nothing to compare: the weights make no number (a "
                                    "training run that diverged), or every value divides by zero")
                    continue
            with np.errstate(invalid="ignore"):  # inf - inf where both overflow alike: NaN, and nanmax skips it
                diff = np.abs(arr.astype(np.float64) - ref_np.astype(np.float64))
            run.max_abs_diff[t.name] = float(np.nanmax(diff)) if diff.size and not np.isnan(diff).all() else 0.0
            if np.allclose(arr, ref_np, rtol=rtol, atol=atol, equal_nan=True):
                continue
            if arbiter is not None and not exact:
                exact.append(arbiter(feeds))
            truth = exact[0][k] if exact and not isinstance(exact[0], str) else None
            mask, own = beyond_rounding(arr, ref_np, truth, rtol, atol)
            if not mask.any():
                run.rounding[t.name] = own
                continue
            bad = np.argwhere(mask)
            idx = tuple(int(i) for i in bad[0])
            beyond = (f", and farther from the float64 result than {ROUNDING_FACTOR:g} times {against} float32's "
                      f"own error {own:.1e}") if truth is not None else ""
            if exact and isinstance(exact[0], str):
                # Without the float64 run, rounding that an ill-conditioned layer amplifies and a wrong
                # graph look alike: say the verdict is the strict one, and why.
                beyond += (f"; the float64 run of {against} that tells float32's rounding from a wrong graph "
                           f"could not run ({exact[0]}), so this is the strict comparison")
            problems.append(f"{where}: ONNX Runtime and {against} differ at {len(bad)} of {arr.size} values "
                            f"(first at {idx}: {arr[idx]!r} vs {ref_np[idx]!r}; max |diff| "
                            f"{run.max_abs_diff[t.name]:.2e} > atol {atol} + rtol {rtol}·|x|{beyond})")
        runs.append(run)
    return runs, problems


def verify(path: str | Path, module: torch.nn.Module, sig: Signature,
           make_inputs: Callable[[dict[str, int]], Any], env0: dict[str, int], *,
           valid: EnvCheck | None = None, rtol: float = RTOL, atol: float = ATOL,
           arbitrate: bool = True) -> VerifyReport:
    """All three witnesses against the PyTorch module (``arbitrate``: its float64 run judging a
    difference past the tolerance, see :func:`beyond_rounding`); raises :class:`VerificationFailed`
    listing every problem found."""
    with _no_grad_eval(module):
        return verify_against(path, sig, torch_reference(module, sig, make_inputs), env0, valid=valid,
                              rtol=rtol, atol=atol, arbiter=float64_arbiter(module, sig) if arbitrate else None)


def verify_against(path: str | Path, sig: Signature, reference: Reference, env0: dict[str, int], *,
                   valid: EnvCheck | None = None, rtol: float = RTOL, atol: float = ATOL, against: str = "PyTorch",
                   extra: Callable[[onnx.ModelProto], list[str]] | None = None,
                   light: onnx.ModelProto | None = None, session: Started | None = None,
                   arbiter: Arbiter | None = None) -> VerifyReport:
    """The checker, the shapes (plus ``extra``'s checks of the model as ONNX shape inference typed it,
    declared output shapes and value_info left out), and ONNX Runtime
    against ``reference`` at the export sizes and two others (``arbiter`` judging a difference past
    the tolerance).  ``light`` is the model as written without its weights' data, where the writer
    has it (else it is read back from ``path``); ``session``: ONNX Runtime's session on ``path``,
    from :func:`session_started`, else one is started here."""
    path = Path(path)
    if session is None:
        with session_started(path) as started:
            return verify_against(path, sig, reference, env0, valid=valid, rtol=rtol, atol=atol, against=against,
                                  extra=extra, light=light, session=started, arbiter=arbiter)
    return _verify(path, sig, reference, env0, VerifyReport(against=against), session, valid=valid, rtol=rtol,
                   atol=atol, against=against, extra=extra, light=light, arbiter=arbiter)


class Started:
    """A session being built on a thread of its own: ``result()`` waits for it and returns it, or
    raises its failure.  (A thread, not concurrent.futures' executor: importing that module and its
    logging cost every export ~14 M instructions, for the one task it ran.)"""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(make,), name="specc-verify", daemon=True)
        self._thread.start()

    def _run(self, make: Callable[[], Any]) -> None:
        try:
            self._value = make()
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller, raised by result()
            self._error = exc

    def wait(self) -> None:
        self._thread.join()

    def result(self) -> Any:
        self.wait()
        if self._error is not None:
            raise self._error
        return self._value


@contextlib.contextmanager
def session_started(path: str | Path) -> Iterator[Started]:
    """ONNX Runtime's verification session on ``path``, built on a second thread while the caller
    goes on: the checker, shape inference and the references (a PyTorch module's import, build and
    runs) take their time beside it, since all of them release the GIL for most of theirs (on two
    cores, ResNet-18's verification takes ~0.1 s less).  Its failure is raised by ``result()``; the
    thread is waited for on the way out, whatever the caller did."""
    session = Started(lambda: _session(Path(path)))
    try:
        yield session
    finally:
        session.wait()


def _session(path: Path) -> Any:
    return create_session(path, "cpu", checked=True, quiet=True, few_runs=True)


def _verify(path: Path, sig: Signature, reference: Reference, env0: dict[str, int], report: VerifyReport,
            session: Started, *, valid: EnvCheck | None, rtol: float, atol: float, against: str,
            extra: Callable[[onnx.ModelProto], list[str]] | None, light: onnx.ModelProto | None,
            arbiter: Arbiter | None) -> VerifyReport:
    problems = _checker(path)
    report.checker = "ok" if not problems else "failed"
    model = light if light is not None else weightless(onnx.load(str(path), load_external_data=False))
    declared = check_declared(model, sig)
    flagged = {t.name for t in sig.outputs if any(f"output '{t.name}'" in p for p in declared)}
    outputs, inferred = inferred_outputs(model, sig, flagged)
    shape_problems = declared + outputs + (extra(inferred) if extra and inferred is not None else [])
    report.shapes = f"of {len(sig.outputs)} output{'s' if len(sig.outputs) != 1 else ''} match the spec"
    problems += shape_problems
    envs = [dict(env0), *(other_envs(sig, env0, valid) if sig.symbols() else [])]
    report.runs, run_problems = compare_runs(path, sig, reference, envs, env0, rtol=rtol, atol=atol, against=against,
                                             session=session, arbiter=arbiter)
    problems += run_problems
    if problems:
        raise VerificationFailed(_dedupe(problems))
    return report


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


@contextlib.contextmanager
def _no_grad_eval(module: torch.nn.Module) -> Iterator[None]:
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)
