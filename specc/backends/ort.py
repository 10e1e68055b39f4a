"""ONNX Runtime: pick the execution provider that really works, open untrusted models safely, run.

onnxruntime-gpu lists ``CUDAExecutionProvider`` as available even on machines without a GPU,
and when CUDA then fails to load it logs a screen of red errors and quietly runs on the CPU.
So CUDA is only chosen after a GPU is seen and a tiny probe session really runs on it, with
ONNX Runtime's logger silenced during the probe; ``--provider cuda`` turns a failed probe
into a clear error instead of a silent fallback.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from ..shapes.dims import DimLike
from ..shapes.rules import SizeRule, refusal, rules_from_json
from ..validate.indices import bounds_from_json, index_high
from .errors import InputError, ModelError, ProviderUnavailable, UnsafeModel
from .gpu import gpu_present as _gpu_present

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"

# ONNX Runtime's warnings (e.g. about unused initializers) are noise for specc's users;
# errors still show. The CUDA probe silences errors too, because a failed probe is expected.
_WARNING, _ERROR, _FATAL = 2, 3, 4
ort.set_default_logger_severity(_ERROR)


# -- machine facts -------------------------------------------------------------------------------------

@functools.cache
def physical_cores() -> int:
    """Physical cores this process may use: hyper-threads share one core's arithmetic units."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    cores: set[tuple[str, str]] = set()
    phys = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "physical id":
                phys = value.strip()
            elif key.strip() == "core id":
                cores.add((phys, value.strip()))
    return max(1, min(allowed, len(cores) or allowed))


@contextlib.contextmanager
def quiet_ort() -> Iterator[None]:
    """Nothing from ONNX Runtime (or its Python tools) on the console."""
    ort.set_default_logger_severity(_FATAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        ort.set_default_logger_severity(_ERROR)


def _probe_model() -> bytes:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


@functools.cache
def cuda_status() -> tuple[bool, str]:
    """(usable, why not): whether ONNX Runtime can really run a model on CUDA here."""
    if CUDA not in ort.get_available_providers():
        return False, f"this onnxruntime {ort.__version__} build has no CUDA provider (install onnxruntime-gpu)"
    if not _gpu_present():
        return False, "no NVIDIA GPU was found on this machine (no /dev/nvidia* device)"
    with quiet_ort():
        if hasattr(ort, "preload_dlls"):  # CUDA/cuDNN from pip's nvidia-* wheels, when installed
            with contextlib.suppress(Exception):
                ort.preload_dlls()
        try:
            so = ort.SessionOptions()
            so.log_severity_level = _FATAL
            sess = ort.InferenceSession(_probe_model(), so, providers=[CUDA, CPU])
            if CUDA not in sess.get_providers():
                raise RuntimeError("provider did not load")
            sess.run(None, {"x": np.ones(2, np.float32)})
        except Exception:  # noqa: BLE001 -- any failure means the same thing: CUDA is not usable
            return False, ("onnxruntime could not load its CUDA provider: the CUDA and cuDNN libraries it was "
                           "built for are missing or do not match the driver (see onnxruntime's GPU requirements)")
    return True, ""


def select_providers(choice: str = "auto") -> list[str]:
    """Providers for a session: ``auto`` takes CUDA (then CPU) only when CUDA really runs."""
    if choice == "cpu":
        return [CPU]
    usable, why = cuda_status()
    if choice == "cuda":
        if not usable:
            raise ProviderUnavailable(f"--provider cuda: CUDA cannot run here: {why}; use --provider cpu or auto")
        return [CUDA, CPU]
    if choice != "auto":
        raise ValueError(f"unknown provider choice {choice!r}")
    return [CUDA, CPU] if usable else [CPU]


# -- untrusted models ------------------------------------------------------------------------------------

def _tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        yield from _node_tensors(node)


def _node_tensors(node: onnx.NodeProto) -> Iterator[onnx.TensorProto]:
    for attr in node.attribute:
        if attr.HasField("t"):
            yield attr.t
        yield from attr.tensors
        if attr.HasField("sparse_tensor"):
            yield attr.sparse_tensor.values
            yield attr.sparse_tensor.indices
        if attr.HasField("g"):
            yield from _tensors(attr.g)
        for g in attr.graphs:
            yield from _tensors(g)


def _all_tensors(model: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
    yield from _tensors(model.graph)
    for fn in model.functions:
        for node in fn.node:
            yield from _node_tensors(node)


def external_data_problem(location: str, model_dir: Path) -> str | None:
    """Why an external-data location is unsafe, or None when it stays inside ``model_dir``."""
    if not location:
        return "an empty location"
    if "\x00" in location:
        return "a NUL byte in the location"
    posix, win = PurePosixPath(location), PureWindowsPath(location)
    if posix.is_absolute() or win.is_absolute() or win.drive or location.startswith(("/", "\\")):
        return "an absolute path"
    if ".." in posix.parts or ".." in win.parts:
        return "a '..' component"
    root = model_dir.resolve()
    target = (root / location).resolve()  # follows symlinks: a link may point elsewhere
    if target != root and root not in target.parents:
        return f"a path that resolves outside the model's folder ({target})"
    return None


def load_untrusted(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """The model's protobuf (without external data), after refusing unsafe external-data paths.

    Called before any ONNX Runtime session is created: a hand-made model could otherwise make
    the runtime read (and echo back through outputs) any file the user can read."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"no such ONNX model: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 -- protobuf raises assorted types for garbage input
        raise ModelError(f"{path} is not a readable ONNX model ({type(exc).__name__}: {exc})") from None
    if not model.HasField("graph"):
        raise ModelError(f"{path} is not an ONNX model (it has no graph)")
    for tensor in _all_tensors(model):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        problem = external_data_problem(location, path.parent)
        if problem:
            raise UnsafeModel(
                f"{path}: refusing to load: tensor '{tensor.name}' keeps its data at {location!r}, {problem}; "
                "external data must be a relative path inside the model's folder")
    return model


# -- sessions ------------------------------------------------------------------------------------------------

# Graph optimisation levels by name. Sessions run at "all": on top of the extended fusions (Conv or
# Gemm with its activation, MatMul+Add, GELU, LayerNorm, attention) it adds the layout pass that blocks
# convolutions into NCHWc for the CPU's vector width, the fastest form on the machine that runs them.
# A model saved for later (``specc export --optimize``) stops at "extended": ONNX Runtime's docs warn
# that a layout-optimised graph is tied to the hardware it was made on, while extended fusions are
# ONNX Runtime contrib ops that every CPU build runs (and the session adds the layout pass at load).
OPT_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
SAVE_LEVEL = "extended"


def session_options(threads: int | None = None, quiet: bool = False, spin: bool = True, *, level: str = "all",
                    parallel: bool = False, few_runs: bool = False) -> ort.SessionOptions:
    """Options of a tuned CPU session: ``threads`` intra-op threads (default: the physical cores,
    since two hyper-threads share one core's vector units), one inter-op thread and sequential
    execution unless ``parallel`` (only graphs with independent branches gain from running them
    at once, and the second pool competes with the first for the same cores).  ``few_runs``: a
    session for a handful of runs (verification), whose weights are not pre-packed into the
    kernels' layouts: packing VGG-11's weights takes 0.7 s, more than three runs gain from it; nor do
    its threads spin between runs: the process's own thread has work to do then (the reference, the
    checker), and spinning ResNet-18's verification cost 0.1 s of CPU to save microseconds."""
    so = ort.SessionOptions()
    if few_runs:
        so.add_session_config_entry("session.disable_prepacking", "1")
        spin = False
    so.graph_optimization_level = OPT_LEVELS[level]
    so.execution_mode = ort.ExecutionMode.ORT_PARALLEL if parallel else ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = threads or physical_cores()
    so.inter_op_num_threads = (threads or physical_cores()) if parallel else 1
    if not spin:  # spinning buys latency in a dedicated process; it starves others sharing the cores
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # quiet: the caller reports failures itself (verification expects some runs to fail)
    so.log_severity_level = _FATAL if quiet else _ERROR
    return so


def holds_half(model: onnx.ModelProto) -> bool:
    """Whether the model computes in float16 (weights stored or values cast to it)."""
    half = (onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16)
    return any(t.data_type in half for t in model.graph.initializer) or any(
        n.op_type == "Cast" and any(a.name == "to" and a.i in half for a in n.attribute) for n in model.graph.node)


# ONNX Runtime 1.2x's CPU graph optimisations crash the process (SIGSEGV, nothing to catch) on some
# float16 graphs: a GRU read through a Transpose, as every recurrent model of specc's direct target
# is, dies in session creation unless the NCHWc layout pass is off.  That pass rewrites float32
# convolutions only, so a float16 model loses nothing without it.
HALF_DISABLED = ["NchwcTransformer"]


def create_session(model: str | os.PathLike[str], provider: str = "auto", *, threads: int | None = None,
                   checked: bool = False, quiet: bool = False, spin: bool = True, level: str = "all",
                   parallel: bool = False, few_runs: bool = False, half: bool | None = None) -> ort.InferenceSession:
    """A tuned session on ``model`` (a path). Unsafe external data is refused first unless ``checked``.
    ``half``: the model computes in float16 (None: read it from the model, unless ``checked``)."""
    if not checked:
        loaded = load_untrusted(model)
        half = holds_half(loaded) if half is None else half
    providers = select_providers(provider)
    so = session_options(threads, quiet, spin, level=level, parallel=parallel, few_runs=few_runs)
    try:
        sess = ort.InferenceSession(str(model), so, providers=providers,
                                    disabled_optimizers=HALF_DISABLED if half else None)
    except Exception as exc:  # noqa: BLE001 -- onnxruntime raises its own exception types per failure
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"ONNX Runtime cannot load {model}: {first}") from None
    if provider == "cuda" and CUDA not in sess.get_providers():
        raise ProviderUnavailable(f"--provider cuda: ONNX Runtime did not start CUDA for {model}")
    return sess


def save_optimized(model: str | os.PathLike[str], target: str | os.PathLike[str], *,
                   level: str = SAVE_LEVEL) -> Path:
    """Write ONNX Runtime's optimised graph of ``model`` to ``target`` (atomically). On the CPU
    provider only: a graph optimised for CUDA holds nodes that only the CUDA provider runs."""
    from ..atomic import atomic_write

    if too_big_for_one_file(model, load_untrusted(model)):
        raise ModelError(f"{model} with its weights is over 2 GB; specc saves optimised models only for "
                         "models under 2 GB")

    def write(tmp: Path) -> None:
        so = session_options(1, level=level)
        so.optimized_model_filepath = str(tmp)
        try:
            ort.InferenceSession(str(model), so, providers=[CPU])
        except Exception as exc:  # noqa: BLE001 -- onnxruntime raises its own exception types per failure
            raise ModelError(f"ONNX Runtime cannot optimise {model}: {str(exc).strip()[:200]}") from None
        saved = onnx.load(str(tmp), load_external_data=False)
        if has_external_data(saved):
            # ONNX Runtime saves the weights it left alone as references to the source's data file,
            # which is not beside the new model: take them in, for one self-contained file
            for t in _all_tensors(saved):
                where = next((e.value for e in t.external_data if e.key == "location"), "")
                if t.data_location == onnx.TensorProto.EXTERNAL and external_data_problem(where, Path(model).parent):
                    raise ModelError(f"ONNX Runtime's optimised {model} points outside its folder ({where!r})")
            onnx.load_external_data_for_model(saved, str(Path(model).parent))
            tmp.write_bytes(saved.SerializeToString())

    return atomic_write(target, write)


def stored_bytes(path: str | os.PathLike[str], model: onnx.ModelProto) -> int:
    """The model's size on disk: its file and the external data files it reads (each once)."""
    path = Path(path)
    sides = {e.value for t in _all_tensors(model) if t.data_location == onnx.TensorProto.EXTERNAL
             for e in t.external_data if e.key == "location"}
    return path.stat().st_size + sum((path.parent / s).stat().st_size for s in sides if (path.parent / s).is_file())


def too_big_for_one_file(path: str | os.PathLike[str], model: onnx.ModelProto) -> bool:
    """Whether the model, weights included, exceeds what one protobuf can hold (2 GiB): the tools
    that rewrite a whole model (the optimiser's saved graph, the quantiser, the float16 converter)
    write it as one."""
    return stored_bytes(path, model) >= onnx.checker.MAXIMUM_PROTOBUF


def has_external_data(model: onnx.ModelProto) -> bool:
    return any(t.data_location == onnx.TensorProto.EXTERNAL for t in _all_tensors(model))


def ran_on(sess: ort.InferenceSession) -> str:
    """The provider that runs the model's nodes (CPU only takes what CUDA cannot)."""
    return sess.get_providers()[0]


def run(sess: ort.InferenceSession, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Outputs by name. On CUDA, inputs and outputs are bound once (IO binding) to avoid extra copies."""
    names = [o.name for o in sess.get_outputs()]
    if ran_on(sess) == CUDA:
        binding = sess.io_binding()
        for name, array in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(array))
        for name in names:
            binding.bind_output(name, "cuda")
        with _failed_run():
            sess.run_with_iobinding(binding, _QUIET_RUN)
        return dict(zip(names, binding.copy_outputs_to_cpu()))
    with _failed_run():
        return dict(zip(names, sess.run(names, dict(feeds), _QUIET_RUN)))


# The failure is reported once, as specc's error; ONNX Runtime's own log line would repeat it in red.
_QUIET_RUN = ort.RunOptions()
_QUIET_RUN.log_severity_level = _FATAL

_ORT_STATUS = re.compile(r"^\[ONNXRuntimeError\] : \d+ : (\w+) : ")
_AT_NODE = re.compile(r"^Non-zero status code returned while running (\w+) node\. Name:'([^']*)' Status Message: ")


@contextlib.contextmanager
def _failed_run() -> Iterator[None]:
    """A session that loaded and took the inputs' names, shapes and types can still fail on their
    values (a token id past the vocabulary, an index out of range): the user's inputs to fix, not
    a specc bug. Any other failure while running is the model's."""
    try:
        yield
    except (ort.capi.onnxruntime_pybind11_state.InvalidArgument,
            ort.capi.onnxruntime_pybind11_state.Fail,
            ort.capi.onnxruntime_pybind11_state.RuntimeException) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        status = _ORT_STATUS.match(text)
        text = text[status.end():] if status else text
        node = _AT_NODE.match(text)
        text = (f"at its {node.group(1)} node {node.group(2)!r}: {text[node.end():]}" if node
                else f": {text}")
        if status and status.group(1) == "INVALID_ARGUMENT":
            raise InputError(f"ONNX Runtime refused the inputs' values{' ' * bool(node)}{text}; give values the model "
                             "takes (token ids below the vocabulary size, indices within their range)") from None
        raise ModelError(f"ONNX Runtime failed while running the model{' ' * bool(node)}{text}") from None


# -- inputs ----------------------------------------------------------------------------------------------------

OnnxDim = int | str | None  # a fixed size, a named symbolic size, or an unnamed unknown one


@dataclass(frozen=True)
class IOInfo:
    name: str
    dtype: np.dtype
    dims: tuple[OnnxDim, ...]

    def shape_text(self) -> str:
        return "(" + ", ".join("?" if d is None else str(d) for d in self.dims) + ")"


def _io(values: Sequence[onnx.ValueInfoProto]) -> list[IOInfo]:
    out = []
    for v in values:
        tt = v.type.tensor_type
        dims: list[OnnxDim] = []
        for d in tt.shape.dim:
            dims.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or None))
        out.append(IOInfo(v.name, np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)), tuple(dims)))
    return out


def model_inputs(model: onnx.ModelProto) -> list[IOInfo]:
    inits = {i.name for i in model.graph.initializer}
    return [i for i in _io(model.graph.input) if i.name not in inits]



def metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def stored_size_rules(meta: Mapping[str, str]) -> list[SizeRule]:
    """The size rules a specc export stored (none for another tool's model, or one that lies)."""
    with contextlib.suppress(ValueError, RecursionError):
        return rules_from_json(json.loads(meta.get("specc_size_rules", "[]")))
    return []


def json_meta(meta: Mapping[str, str], key: str) -> dict[str, int]:
    with contextlib.suppress(ValueError, TypeError):
        value = json.loads(meta.get(key, "{}"))
        if isinstance(value, dict):
            return {str(k): int(v) for k, v in value.items()}
    return {}


def resolve_dims(inputs: Sequence[IOInfo], given: Mapping[str, np.ndarray], *, batch: int = 1,
                 sizes: Mapping[str, int] | None = None, defaults: Mapping[str, int] | None = None) -> dict[str, int]:
    """Values of the symbolic dims: from the given arrays, then ``sizes``, then the batch for
    first axes, then ``defaults`` (the sizes the model was exported with)."""
    env: dict[str, int] = {}
    for info in inputs:
        if info.name not in given:
            continue
        array = given[info.name]
        if array.ndim != len(info.dims):
            raise InputError(f"input '{info.name}' needs {len(info.dims)} dims {info.shape_text()}; "
                             f"the array has {array.ndim}: {tuple(array.shape)}")
        for axis, (dim, n) in enumerate(zip(info.dims, array.shape)):
            if isinstance(dim, int) and dim != n:
                raise InputError(f"input '{info.name}' axis {axis} must be {dim} {info.shape_text()}; "
                                 f"the array has shape {tuple(array.shape)}")
            if isinstance(dim, str):
                if dim in env and env[dim] != n:
                    raise InputError(f"input '{info.name}' axis {axis} is '{dim}' = {n}, but another input "
                                     f"has {dim} = {env[dim]}")
                env[dim] = n
    symbols = list(dict.fromkeys(d for info in inputs for d in info.dims if isinstance(d, str)))
    for name, n in (sizes or {}).items():
        if name not in symbols:  # a typo would otherwise run at the default size, unsaid
            raise InputError(f"--size {name}={n}: the model's inputs have no dim '{name}'"
                             + (f"; their symbolic dims are {', '.join(symbols)}" if symbols else
                                "; every dim of its inputs is fixed"))
        if name in env and env[name] != n:
            raise InputError(f"--size {name}={n} contradicts the given arrays ({name} = {env[name]})")
        env.setdefault(name, n)
    for info in inputs:
        if info.name in given:
            continue
        for axis, dim in enumerate(info.dims):
            if isinstance(dim, str) and dim not in env:
                if axis == 0:
                    env[dim] = batch
                elif defaults and dim in defaults:
                    env[dim] = defaults[dim]
                else:
                    raise InputError(f"input '{info.name}' axis {axis} is the symbolic size '{dim}': "
                                     f"give it with --size {dim}=N")
            elif dim is None and axis != 0:
                raise InputError(f"input '{info.name}' axis {axis} has no declared size; pass the input "
                                 f"as an array with -i {info.name}=FILE.npy")
    return env


def random_inputs(inputs: Sequence[IOInfo], env: Mapping[str, int], *, batch: int = 1, seed: int = 0,
                  int_high: Mapping[str, list[DimLike]] | None = None) -> dict[str, np.ndarray]:
    """Random data of the declared shapes: normal floats; integers in [0, high) where high is
    the smallest bound the exporter recorded at these sizes (an embedding's vocabulary, the
    length a Pick picks from), else 2 so any index table fits."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for info in inputs:
        shape = tuple(env[d] if isinstance(d, str) else (batch if d is None else d) for d in info.dims)
        if info.dtype.kind == "f":
            out[info.name] = rng.standard_normal(shape).astype(info.dtype)
        elif info.dtype.kind in "iu":
            high = index_high((int_high or {}).get(info.name, []), env)
            out[info.name] = rng.integers(0, max(1, high), size=shape).astype(info.dtype)
        elif info.dtype.kind == "b":
            out[info.name] = rng.integers(0, 2, size=shape).astype(bool)
        else:
            raise InputError(f"input '{info.name}' has dtype {info.dtype}; give it as an array with -i")
    return out


def prepare_inputs(model: onnx.ModelProto, given: Mapping[str, np.ndarray], *, batch: int = 1,
                   sizes: Mapping[str, int] | None = None, seed: int = 0) -> tuple[dict[str, np.ndarray], list[str]]:
    """Feeds for every model input (given arrays cast to the declared dtype, the rest random)
    and the names of the inputs that were filled with random data."""
    inputs = model_inputs(model)
    known = {i.name for i in inputs}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InputError(f"the model has no input named {', '.join(repr(u) for u in unknown)}; "
                         f"its inputs are {', '.join(sorted(known))}")
    feeds: dict[str, np.ndarray] = {}
    for info in inputs:
        if info.name in given:
            array = np.asarray(given[info.name])
            if array.dtype != info.dtype:
                if not np.can_cast(array.dtype, info.dtype, "same_kind"):
                    raise InputError(f"input '{info.name}' needs {info.dtype}; the array holds {array.dtype}")
                array = array.astype(info.dtype)
            feeds[info.name] = array
    meta = metadata(model)
    env = resolve_dims(inputs, feeds, batch=batch, sizes=sizes, defaults=json_meta(meta, "specc_sizes"))
    refused = refusal(stored_size_rules(meta), env)
    if refused is not None:
        raise InputError(f"{refused[0]}; {refused[1]}")
    missing = [i for i in inputs if i.name not in feeds]
    highs = bounds_from_json(meta.get("specc_int_high"))
    feeds.update(random_inputs(missing, env, batch=batch, seed=seed, int_high=highs))
    return {i.name: feeds[i.name] for i in inputs}, [i.name for i in missing]


def load_arrays(specs: Sequence[str], input_names: Sequence[str],
                columns: Mapping[str, Sequence[str]] | None = None,
                images: Mapping[str, Sequence[int]] | None = None) -> dict[str, np.ndarray]:
    """``-i NAME=FILE.npy`` / ``-i FILE.npz`` (arrays by input name) / ``-i FILE.npy`` (the only input);
    ``.csv`` a sample a row, the training run's feature ``columns`` picked by name under a header; an
    image file, read at the (C, H, W) of ``images`` as training read its folder (a batch of one)."""
    arrays: dict[str, np.ndarray] = {}
    for item in specs:
        name, sep, file = item.partition("=")
        if not sep or (name not in input_names and Path(item).is_file()):  # a file whose name holds '='
            name, file = "", item
        path = Path(file)
        if name and name not in input_names:  # before the file: its columns are read for that input
            raise InputError(f"-i {item}: the model has no input named {name!r}; its inputs are "
                             f"{', '.join(input_names)}")
        if not path.is_file():
            raise InputError(f"-i {item}: no such file: {file}")
        from ..data.read import IMAGE_SUFFIXES  # numpy only: no torch on a deploy machine

        if path.suffix.lower() == ".csv" or path.suffix.lower() in IMAGE_SUFFIXES:
            if not name:
                if len(input_names) != 1:
                    raise InputError(f"-i {item}: the model has {len(input_names)} inputs; write -i NAME={file}")
                name = input_names[0]
            arrays[name] = (_csv_input(path, (columns or {}).get(name), item) if path.suffix.lower() == ".csv"
                            else _image_input(path, (images or {}).get(name), item))
            continue
        try:
            loaded = np.load(path, allow_pickle=False)  # pickles run code: never for input files
        except Exception as exc:  # noqa: BLE001 -- numpy raises assorted types for bad files
            raise InputError(f"-i {item}: cannot read {file} as .npy/.npz ({exc})") from None
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                if name:
                    if len(loaded.files) != 1:
                        raise InputError(f"-i {item}: {file} holds {len(loaded.files)} arrays; give the .npz "
                                         "without NAME= and name its arrays after the inputs")
                    arrays[name] = loaded[loaded.files[0]]
                else:
                    arrays.update({k: loaded[k] for k in loaded.files})
        else:
            if not name:
                if len(input_names) != 1:
                    raise InputError(f"-i {item}: the model has {len(input_names)} inputs; write -i NAME={file}")
                name = input_names[0]
            arrays[name] = loaded
    return arrays


def _csv_input(path: Path, columns: Sequence[str] | None, item: str) -> np.ndarray:
    from ..data.read import DataError, csv_samples  # numpy only: no torch on a deploy machine

    try:
        return csv_samples(path, columns)
    except DataError as exc:
        raise InputError(f"-i {item}: {exc.message}; {exc.hint}") from None


def _image_input(path: Path, shape: Sequence[int] | None, item: str) -> np.ndarray:
    from ..data.read import DataError, image_array

    if shape is None:
        raise InputError(f"-i {item}: an image feeds an input of shape (B, 1 or 3, H, W) with H and W fixed, "
                         "or of a model exported from a run trained on a folder of images")
    try:
        return image_array(path, shape, "input")[None]
    except DataError as exc:
        raise InputError(f"-i {item}: {exc.message}; {exc.hint}") from None


def image_shapes(meta: Mapping[str, str], inputs: Sequence[IOInfo]) -> dict[str, list[int]]:
    """The (C, H, W) each image input reads: the run's (specc_images), else the input's own fixed dims."""
    from ..data.read import image_input_shape

    recorded: dict[str, list[int]] = {}
    with contextlib.suppress(ValueError, TypeError):
        value = json.loads(meta.get("specc_images", "{}"))
        if isinstance(value, dict):
            recorded = {str(k): [int(n) for n in v] for k, v in value.items() if isinstance(v, list)}
    found = {info.name: image_input_shape(recorded.get(info.name), info.dims) for info in inputs}
    return {name: shape for name, shape in found.items() if shape is not None}


def class_names(meta: Mapping[str, str], outputs: Sequence[str]) -> dict[str, list[str]]:
    """The class names a trained export carries (specc_classes), by output: one list names the
    first output's classes, a mapping each output's."""
    with contextlib.suppress(ValueError, TypeError):
        value = json.loads(meta.get("specc_classes", "null"))
        if isinstance(value, list) and outputs and all(isinstance(c, str) for c in value):
            return {outputs[0]: value}
        if isinstance(value, dict):
            return {k: v for k, v in value.items() if k in outputs and isinstance(v, list)
                    and all(isinstance(c, str) for c in v)}
    return {}


def labels(array: np.ndarray, classes: Sequence[str]) -> list[str] | None:
    """Each sample's best class by name, for a (B, classes) output; None for other shapes."""
    if array.ndim != 2 or array.shape[1] != len(classes) or array.dtype.kind != "f":
        return None
    return [classes[int(i)] for i in array.argmax(1)]


def json_list(meta: Mapping[str, str], key: str) -> dict[str, list[str]]:
    """A metadata value that maps names to lists of names (specc_columns), or nothing."""
    with contextlib.suppress(ValueError, TypeError):
        value = json.loads(meta.get(key, "{}"))
        if isinstance(value, dict):
            return {str(k): [str(c) for c in v] for k, v in value.items() if isinstance(v, list)}
    return {}


def describe(array: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {"shape": list(array.shape), "dtype": str(array.dtype)}
    if array.size and array.dtype.kind in "fiu":
        out.update(min=float(array.min()), max=float(array.max()), mean=float(array.mean(dtype=np.float64)))
    return out
