"""Faster forms of a verified ONNX model, written beside it: ONNX Runtime's optimised graph, int8, fp16.

Each variant is made from the float ``.onnx`` file alone, so it does not matter which route
(a torch exporter or the direct ONNX target) wrote that file; no torch is imported here. A
variant is checked (``onnx.checker``), run beside the float model at two batch sizes (output
shapes equal, outputs finite wherever the float model's are) and measured against it:

- ``optimized`` (``model.opt.onnx``): the graph ONNX Runtime builds at load time, saved so that
  a server skips that work; it must equal the float model to float32 tolerances.
- ``int8`` (``model.int8.onnx``): models with convolutions are quantised statically (QDQ,
  calibrated on the training split of the spec's ``data:`` source), others dynamically
  (weights int8 ahead of time, activations per call), which suits Linear and RNN layers whose
  activation ranges vary per input. Int8 changes the answers: how much is reported as the
  output error against the float model and, for trained weights and real data, as the change
  in the task's metrics on the validation split `specc train` held out.
- ``fp16`` (``model.fp16.onnx``): weights and arithmetic in half precision for GPUs; inputs and
  outputs stay float32 (``keep_io_types``) so the model is fed and read exactly as the float
  one is, at the cost of one Cast at each end. It must equal the float model to half
  precision's tolerances, checked here with ONNX Runtime on the CPU: no GPU ran it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from ..atomic import atomic_write, temp_dir
from . import ort as rt
from .errors import BackendError, ModelError
from .timing import first_line, time_interleaved
from .train.metrics import shown

KINDS = ("optimized", "int8", "fp16")
SUFFIX = {"optimized": "opt", "int8": "int8", "fp16": "fp16"}
CONV_OPS = frozenset({"Conv", "ConvTranspose"})
CALIBRATION_SAMPLES = 128
VALIDATION_SAMPLES = 2000  # enough for a metric to two decimals; bounds the time of a big data set
# A fused kernel sums in another order than the unfused nodes: float32 rounding, a few ulps deep
FLOAT_TOLERANCES = (1e-3, 1e-5)
# Half precision keeps 11 significant bits (a unit roundoff of 4.9e-4), and each layer rounds
# again: a whole network's outputs differ from float32 by a few of those units (CycleGAN's
# generator, 20 layers: 1.5e-3 at outputs of size 1), so the absolute part is 1e-2 of the
# largest output value; a real fault (an overflow to inf, a wrong cast) is off by far more
FP16_VARIANT_TOLERANCES = (1e-2, 1e-2)
INT8_WARN_ERROR = 0.1  # relative output error above which int8 is flagged as changing the model's answers


class VariantFailed(BackendError):
    """A variant could not be made, or does not behave like the float model."""


class HalfOverflow(VariantFailed):
    """A float16 value inside an fp16 model overflows where the float model's is finite."""

    def __init__(self, message: str, writer: str, readers: list[str]) -> None:
        super().__init__(message)
        self.writer, self.readers = writer, readers  # the names of the nodes that write and read it


# -- data to calibrate and score with --------------------------------------------------------------------

@dataclass
class Samples:
    """Inputs (and, for real data, targets) to calibrate a quantiser and compare variants on."""

    origin: str  # in words, for the report
    calibration: list[dict[str, np.ndarray]]  # batches
    validation: dict[str, np.ndarray]
    targets: Any = None  # the validation targets, when scores mean something
    cfg: dict[str, Any] | None = None  # train config, for the task's metrics

    @property
    def scored(self) -> bool:
        return self.targets is not None and self.cfg is not None


def _run_folder(weights: Path) -> Path | None:
    for folder in (weights, weights.parent, weights.parent.parent):
        if (folder / "config.json").is_file() and (folder / "run.json").is_file():
            return folder
    return None


def spec_samples(spec: Any, weights: str | os.PathLike[str] | None) -> tuple[Samples | None, list[str]]:
    """The spec's training data (the run's own settings when ``weights`` is a `specc train` run):
    calibration batches from the training split, the validation split to score on. None (and why)
    when the spec reads no real data; scores only when the weights are trained."""
    from ..data import read as data_mod
    from ..validate.train_config import train_config

    run = _run_folder(Path(weights)) if weights is not None else None
    if run is not None:
        cfg = json.loads((run / "config.json").read_text(encoding="utf-8"))
        base = Path(json.loads((run / "run.json").read_text(encoding="utf-8")).get("base", "."))
    else:
        if spec.document.train is None or spec.document.train.data is None:
            return None, ["the spec has no train.data source"]
        cfg = train_config(spec)
        path = Path(spec.path)
        base = path.parent.resolve() if path.is_file() else Path.cwd()
    dcfg = cfg["train"]["data"]
    if dcfg["source"] == "synthetic":
        return None, ["the spec's data source is synthetic (random inputs and labels), so accuracy on it means "
                      "nothing"]
    seed = cfg["train"]["seed"] if cfg["train"]["seed"] is not None else 0
    rng = np.random.default_rng(seed)
    try:
        full = data_mod.load(dcfg["source"], cfg, base, rng)
        if dcfg["val_source"]:
            train, val = full, data_mod.load(dcfg["val_source"], cfg, base, rng, validation=True)
        else:
            tr, va = data_mod.split(cfg, full, seed)
            train, val = full.take(tr), full.take(va if len(va) else tr)
    except data_mod.DataError as exc:
        return None, [f"the spec's data could not be read ({exc.code}: {exc.message})"]
    except ImportError as exc:  # the bundled sets need scikit-learn, which a deploy install may lack
        return None, [f"the spec's data could not be read ({exc})"]
    # random subsets, not the first rows: a file or a folder of images is often sorted by class
    pick = np.random.default_rng(seed)
    whole = len(val)
    if whole > VALIDATION_SAMPLES:
        val = val.take(np.sort(pick.choice(whole, VALIDATION_SAMPLES, replace=False)))
    cal = train.take(pick.permutation(len(train))[:CALIBRATION_SAMPLES])
    batches = [{k: v[i:i + 16] for k, v in cal.inputs.items()} for i in range(0, len(cal), 16)]
    origin = f"{dcfg['val_source'] or dcfg['source']} ({len(val)}{f' of {whole}' if whole > len(val) else ''} " \
             "validation samples)"
    notes = []
    if weights is None:
        notes.append("no --weights: the model is untrained, so its metrics are not reported; the output error "
                     "against the float model is measured on the validation inputs")
    return Samples(origin, batches, val.inputs, val.targets if weights is not None else None,
                   cfg if weights is not None else None), notes


def random_samples(model_path: Path) -> Samples:
    """Random inputs at the sizes the model was exported with (no data, or none worth scoring)."""
    model = rt.load_untrusted(model_path)
    batches = CALIBRATION_SAMPLES // 16
    cal = [rt.prepare_inputs(model, {}, batch=16, seed=i)[0] for i in range(batches)]
    val = rt.prepare_inputs(model, {}, batch=64, seed=batches)[0]
    return Samples("random inputs", cal, val)


# -- reports -------------------------------------------------------------------------------------------------

@dataclass
class Speed:
    threads: int
    batch: int
    float_ms: float | None
    variant_ms: float | None
    float_load_ms: float | None = None  # creating the session: where a saved optimised graph saves time
    variant_load_ms: float | None = None

    @property
    def speedup(self) -> float | None:
        return self.float_ms / self.variant_ms if self.float_ms and self.variant_ms else None


@dataclass
class Accuracy:
    origin: str
    max_abs_error: float
    relative_error: float  # ||variant - float|| / ||float|| over all outputs
    float_metrics: dict[str, float] = field(default_factory=dict)
    variant_metrics: dict[str, float] = field(default_factory=dict)

    def change(self) -> dict[str, float]:
        return {k: self.variant_metrics[k] - v for k, v in self.float_metrics.items() if k in self.variant_metrics}


@dataclass
class Variant:
    kind: str
    path: Path
    size_bytes: int
    float_size_bytes: int
    method: str
    checks: list[str]
    accuracy: Accuracy | None = None
    speed: Speed | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        acc = self.accuracy
        return {"kind": self.kind, "path": str(self.path), "size_bytes": self.size_bytes,
                "float_size_bytes": self.float_size_bytes, "method": self.method, "verified": self.checks,
                "accuracy": None if acc is None else {
                    "data": acc.origin, "max_abs_error": _num(acc.max_abs_error),
                    "relative_error": _num(acc.relative_error),
                    "float_metrics": {k: _num(v) for k, v in acc.float_metrics.items()},
                    "variant_metrics": {k: _num(v) for k, v in acc.variant_metrics.items()},
                    "change": {k: _num(v) for k, v in acc.change().items()}},
                "speed": None if self.speed is None else {
                    "threads": self.speed.threads, "batch": self.speed.batch, "float_ms": self.speed.float_ms,
                    "variant_ms": self.speed.variant_ms, "speedup": self.speed.speedup,
                    "float_load_ms": self.speed.float_load_ms, "variant_load_ms": self.speed.variant_load_ms},
                "notes": self.notes}

    def lines(self) -> list[str]:
        out = [f"wrote {self.path} ({_size(self.size_bytes)}, {self.size_bytes / self.float_size_bytes:.0%} of the "
               f"float model): {self.method}", f"  verified: {'; '.join(self.checks)}"]
        if self.accuracy is not None:
            a = self.accuracy
            out.append(f"  vs float on {a.origin}: max |diff| {a.max_abs_error:.2e}, "
                       f"relative error {a.relative_error:.2e}")
            shared = [k for k in a.float_metrics if k in a.variant_metrics]
            if shared:
                out.append(f"  validation metrics, float -> {self.kind}: " + "; ".join(
                    f"{k} {shown(a.float_metrics[k], '.4f')} -> {shown(a.variant_metrics[k], '.4f')} "
                    f"({shown(a.variant_metrics[k] - a.float_metrics[k], '+.4f')})" for k in shared))
        if self.speed is not None and self.speed.speedup is not None:
            s = self.speed
            out.append(f"  speed on this CPU, batch {s.batch}, {s.threads} thread{'s' if s.threads != 1 else ''}: "
                       f"float {s.float_ms:.3f} ms, {self.kind} {s.variant_ms:.3f} ms ({s.speedup:.2f}x); "
                       f"session start {s.float_load_ms:.0f} ms vs {s.variant_load_ms:.0f} ms")
        out += [f"  note: {n}" for n in self.notes]
        return out


def _num(v: float) -> float | None:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


# -- making them --------------------------------------------------------------------------------------------

def variant_path(model: str | os.PathLike[str], kind: str) -> Path:
    """``model.int8.onnx`` beside ``model.onnx``."""
    model = Path(model)
    return model.with_name(f"{model.stem}.{SUFFIX[kind]}{model.suffix or '.onnx'}")


def has_convolutions(model: onnx.ModelProto) -> bool:
    return any(n.op_type in CONV_OPS for n in model.graph.node) or any(
        n.op_type in CONV_OPS for f in model.functions for n in f.node)


@contextlib.contextmanager
def _contained(work: Path) -> Iterator[None]:
    """Run ONNX Runtime's converters quietly (they print progress and warnings meant for their
    developers) inside ``work``: its symbolic shape inference, when it gives up, saves its model
    and a weights file of a random name into the current folder, which must not be the user's."""
    import logging

    old_level, old_dir = logging.root.level, os.getcwd()
    logging.root.setLevel(logging.ERROR)
    os.chdir(work)
    try:
        with rt.quiet_ort():
            yield
    finally:
        os.chdir(old_dir)
        logging.root.setLevel(old_level)


def int8_saturates() -> bool:
    """Whether ONNX Runtime's uint8 x int8 kernels saturate on this CPU: an x86 CPU without VNNI
    multiplies with VPMADDUBSW, whose 16-bit pair sums clamp. ONNX Runtime's quantisation guide
    advises 7-bit weights (``reduce_range``) there; a CPU with VNNI (or an ARM one) needs none."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686", "x86"):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").split()
        return not {"avx512_vnni", "avx_vnni"} & set(flags)
    except OSError:
        pass
    try:  # numpy's own CPU detection (not /proc: macOS, Windows)
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        return False
    return not (features.get("AVX512VNNI") or features.get("AVX_VNNI") or features.get("AVXVNNI"))


def _int8(src: Path, dst: Path, work: Path, samples: Samples) -> tuple[str, list[str]]:
    try:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_dynamic,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:  # its quantisation extra (ml_dtypes) is an optional install of onnxruntime
        raise VariantFailed(f"onnxruntime's quantisation tools cannot be imported ({exc}); install them with "
                            "pip install 'onnxruntime[quantization]'") from None

    notes: list[str] = []
    # Shape annotations of intermediate values are hints that shape inference recomputes; the
    # quantiser rewrites tensors (Gemm's transposed weight into MatMul's) but not their hints, and
    # a stale one (some exporters annotate initializers too) then contradicts the new shape.
    model = onnx.load(str(src))
    if has_convolutions(model):
        _pads_over_every_axis(model)
    del model.graph.value_info[:]
    plain = work / "plain.onnx"
    plain.write_bytes(model.SerializeToString())
    pre = work / "pre.onnx"
    failures = []
    # folds BatchNorm into Conv and infers shapes so that the quantiser sees every tensor; ONNX
    # Runtime's symbolic shape inference gives up on some graphs, ONNX's own then does the work
    for skip_symbolic in (False, True):
        try:
            with _contained(work):
                quant_pre_process(str(plain), str(pre), skip_symbolic_shape=skip_symbolic)
            break
        except Exception as exc:  # noqa: BLE001 -- an optional step: quantise the model as it is
            failures.append(first_line(exc))
    else:
        notes.append(f"onnxruntime's quantisation pre-processing failed ({failures[-1]}); quantised as exported")
        pre = plain
    prepared = onnx.load(str(pre), load_external_data=False)
    static = has_convolutions(prepared)
    keep_float = _weights_of_several_dims(prepared) + _size_arithmetic(prepared)

    saturates = static and int8_saturates()

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.batches = iter(samples.calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    try:
        with _contained(work):
            if static:
                # QDQ: ONNX Runtime fuses each DequantizeLinear-op-QuantizeLinear into an integer kernel
                # (QLinearConv, QGemm); per-channel weight scales keep thin filters accurate
                quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                nodes_to_exclude=keep_float, reduce_range=saturates)
            else:
                quantize_dynamic(str(pre), str(dst), weight_type=QuantType.QInt8)
    except Exception as exc:  # noqa: BLE001 -- the quantisers raise assorted types per unsupported graph
        raise VariantFailed(f"onnxruntime could not quantise the model to int8: {first_line(exc)}") from None
    n = sum(len(b[next(iter(b))]) for b in samples.calibration)
    weights = "per-channel 7-bit weights (this CPU has no VNNI)" if saturates else "per-channel weights"
    method = (f"static int8 (QDQ, {weights}, uint8 activations calibrated on {n} samples of "
              f"{samples.origin.split(' (')[0]})" if static else
              "dynamic int8 (int8 weights, activations quantised per call)")
    return method, notes


def _pads_over_every_axis(model: onnx.ModelProto) -> None:
    """Write each Pad that names its axes (the direct target's, from opset 18) over every axis,
    zeros for the others: the same Pad.  ONNX Runtime's NHWC layout transformer, which at level
    'all' moves the int8 convolutions' neighbours to channels-last, permutes a Pad's pads as if
    they covered every axis, and the model then fails at run time ("indices element out of data
    bounds").  Static int8 only: there a Pad reads and writes through QuantizeLinear and
    DequantizeLinear, so ONNX Runtime does not fold it into a max pool (PadFusion, which pads
    with -inf), the fold the axes were written against."""
    from onnx import numpy_helper

    try:
        typed = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 -- no ranks known: the Pads stay as written
        return
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in (*typed.graph.value_info, *typed.graph.input)
             if v.type.tensor_type.HasField("shape")}
    known = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    known.update({n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in model.graph.node
                  if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"})
    for node in model.graph.node:
        if node.op_type != "Pad" or len(node.input) < 4 or not node.input[3]:
            continue
        rank, pads, axes = ranks.get(node.input[0]), known.get(node.input[1]), known.get(node.input[3])
        if rank is None or pads is None or axes is None:
            continue
        full = np.zeros(2 * rank, np.int64)
        for k, axis in enumerate(axes.tolist()):
            full[axis % rank], full[rank + axis % rank] = pads[k], pads[len(axes) + k]
        name = f"{node.name or node.output[0]}/pads_every_axis"
        model.graph.initializer.append(numpy_helper.from_array(full, name))
        node.input[1] = name
        del node.input[3]


def _size_arithmetic(model: onnx.ModelProto) -> list[str]:
    """The nodes that compute from sizes and constants alone, no model input's values: the sampling
    positions and weights of a bilinear Upsample (Range, Add, Mul, Floor of the output size), a
    mask built from a length.  Quantised, its Add and Mul round a position to 1/255 of its range
    and the gathers read the wrong pixels (a small FPN's int8 outputs were off by 110% of their
    size, 3% with these kept float).  Static int8 quantises the values that flow from the inputs."""
    inits = {t.name for t in model.graph.initializer}
    carries = {i.name for i in model.graph.input if i.name not in inits}
    found = []
    for node in model.graph.node:  # in topological order, as a valid model's are
        if node.op_type in ("Shape", "Size"):  # their outputs are sizes, whatever the values
            continue
        if any(i in carries for i in node.input):
            carries.update(node.output)
        elif node.input and node.op_type != "Constant":
            found.append(node.name)
    return found


def _weights_of_several_dims(model: Any) -> list[str]:
    """The LayerNormalization nodes whose scale or bias has several dims (a LayerNorm over (C, H, W),
    as a WGAN-GP critic normalises): ONNX Runtime's per-channel quantiser reads such a bias as one
    value per channel and fails on it (its int32 bias-scale check). Their scale and bias stay float;
    the node still reads and writes quantised activations through DequantizeLinear and QuantizeLinear."""
    dims = {t.name: len(t.dims) for t in model.graph.initializer}
    return [n.name for n in model.graph.node
            if n.op_type == "LayerNormalization" and any(dims.get(i, 0) > 1 for i in n.input[1:])]


def _fp16(src: Path, dst: Path, work: Path, kept: Sequence[str] = ()) -> tuple[str, list[str]]:
    """The float16 model of ``src``, the nodes named in ``kept`` computing in float32."""
    from onnxruntime.transformers.float16 import convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    model = onnx.load(str(src))
    try:
        with _contained(work):
            half = convert_float_to_float16(model, keep_io_types=True, node_block_list=list(kept) or None)
            _no_round_trips(half)
            _one_cast_per_value(half)
            # the converter appends the input Casts after the nodes that read them
            OnnxModel(half).topological_sort()
    except Exception as exc:  # noqa: BLE001 -- the converter raises assorted types per unsupported graph
        raise VariantFailed(f"onnxruntime could not convert the model to float16: {first_line(exc)}") from None
    dst.write_bytes(half.SerializeToString())
    notes = [f"kept in float32, as their values pass float16's largest (65504) on the sample inputs: "
             f"{', '.join(kept)}"] if kept else []
    clipped = [f"{node} reads {value:.3g}" for node, value in _past_half(model) if node not in kept]
    if clipped:
        notes.append(f"float16 cannot hold {'this constant' if len(clipped) == 1 else 'these constants'}, so the "
                     f"fp16 model reads {HALF_MAX:g} of its sign instead: {'; '.join(clipped)}. A fill (MaskedFill's "
                     "-1e9) hides the same positions from a Softmax; a row filled entirely, or the constant "
                     "computed with (a scale, an offset), gives another answer than the float model's")
    return ("float16 weights and arithmetic, float32 inputs and outputs (keep_io_types); for GPUs: "
            "no GPU ran it here"), notes


HALF_MAX = 65504.0  # float16's largest finite value: ONNX Runtime's converter clips larger constants to it


def _past_half(model: onnx.ModelProto) -> list[tuple[str, float]]:
    """The nodes that read a finite float constant float16 cannot hold (past 65504), and its first such
    value: the converter clips it to 65504 of its sign, silently (MaskedFill's -1e9 becomes -65504)."""
    from onnx import numpy_helper

    tensors = [(t.name, t) for t in model.graph.initializer]
    tensors += [(n.output[0], a.t) for n in model.graph.node if n.op_type == "Constant"
                for a in n.attribute if a.name == "value"]
    big: dict[str, float] = {}
    for name, t in tensors:
        if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
            a = numpy_helper.to_array(t)
            past = a[np.isfinite(a) & (np.abs(a) > HALF_MAX)]
            if past.size:
                big[name] = float(past.flat[0])
    return [(n.name or n.output[0], big[i]) for n in model.graph.node for i in n.input if i in big]


# How many nodes an fp16 model keeps in float32 before its overflows are reported instead: each
# costs a conversion and a verification, and a model that overflows all along is a float32 model.
MAX_KEPT_FLOAT = 8


def _verified_fp16(src: Path, made: Path, work: Path, float_model: onnx.ModelProto,
                   samples: Samples) -> tuple[str, list[str], list[str], Accuracy]:
    """The fp16 model, verified: a node whose float16 output overflows (see :class:`HalfProbe`) is
    kept in float32 and the model made again, as ONNX Runtime's converter does for the ops it
    blocks; its readers then overflow in turn if the value stays out of range, up to MAX_KEPT_FLOAT."""
    kept: list[str] = []
    while True:
        method, notes = _fp16(src, made, work, kept)
        _stamp(made, float_model, "fp16")
        try:
            checks, accuracy = verify_variant(src, made, "fp16", samples)
        except HalfOverflow as exc:
            # the node that overflows first; kept already, its value is cast to float16 for its
            # readers, which then compute in float32 too
            more = [exc.writer] if exc.writer not in kept else list(dict.fromkeys(r for r in exc.readers
                                                                                   if r not in kept))
            if not more or not all(more) or len(kept) + len(more) > MAX_KEPT_FLOAT:
                raise VariantFailed(str(exc) + (f" (kept in float32 already: {', '.join(kept)})" if kept else "")
                                    ) from None
            kept += more
            continue
        return method, notes, checks, accuracy


def _no_round_trips(model: onnx.ModelProto) -> None:
    """Drop the converter's float16 round trip between two nodes it keeps in float32: it casts a
    kept node's output to float16 ('<value>_cast_to_fp16_node') and back for each kept reader
    ('<value>_cast_to_fp32_node'); a value past 65504 would become inf in between.  The readers
    read the float32 value instead, and a Cast to float16 no one else reads goes."""
    nodes = list(model.graph.node)
    to_half = {n.output[0]: n for n in nodes if n.op_type == "Cast" and n.name.endswith("_cast_to_fp16_node")}
    back = {n.output[0]: n.input[0] for n in nodes if n.op_type == "Cast" and n.name.endswith("_cast_to_fp32_node")
            and n.input[0] in to_half}
    if not back:
        return
    drop = {id(n) for n in nodes if n.output and n.output[0] in back}
    for n in nodes:
        n.input[:] = [to_half[back[i]].input[0] if i in back else i for i in n.input]
    outputs = {o.name for o in model.graph.output}
    read = {i for n in nodes if id(n) not in drop for i in n.input} | outputs
    drop |= {id(c) for v, c in to_half.items() if v not in read}
    del model.graph.node[:]
    model.graph.node.extend(n for n in nodes if id(n) not in drop)


def _one_cast_per_value(model: onnx.ModelProto) -> None:
    """Drop the converter's repeated Casts: a float16 value read by two nodes it keeps in float32
    (Min, Max: its block list) gets one Cast per reader, all writing '<value>_cast_to_fp32', which
    breaks single assignment (the checker refuses the model).  Repeats are identical: keep one."""
    first: dict[str, onnx.NodeProto] = {}
    keep = []
    for node in model.graph.node:
        same = [first.get(o) for o in node.output]
        if any(n is not None for n in same):
            if all(n is not None and n.op_type == node.op_type and list(n.input) == list(node.input)
                   and list(n.attribute) == list(node.attribute) for n in same):
                continue
            raise VariantFailed(f"the float16 converter wrote two different nodes for '{node.output[0]}'")
        first.update(dict.fromkeys(node.output, node))
        keep.append(node)
    if len(keep) != len(model.graph.node):
        del model.graph.node[:]
        model.graph.node.extend(keep)


def make_variant(model: str | os.PathLike[str], kind: str, *, samples: Samples | None = None,
                 target: str | os.PathLike[str] | None = None, threads: int | None = None,
                 runs: int = 50, notes: Sequence[str] = ()) -> Variant:
    """Make the ``kind`` variant of the float ``model`` (a path), verify and measure it against the
    float model, and write it atomically to ``target`` (default: beside the model)."""
    if kind not in KINDS:
        raise ValueError(f"unknown variant {kind!r}")
    src = Path(model)
    float_model = rt.load_untrusted(src)
    if rt.too_big_for_one_file(src, float_model):
        raise VariantFailed(f"{src} with its weights is over 2 GB; specc makes {kind} models only of models "
                            "under 2 GB")
    dst = Path(target) if target is not None else variant_path(src, kind)
    samples = samples or random_samples(src)
    notes = list(notes)
    with temp_dir(dst.parent, dst.name) as work:
        src, work = src.resolve(), work.resolve()  # the converters run inside work (_contained)
        made = work / dst.name
        if kind == "optimized":
            rt.save_optimized(src, made)
            method, more = f"ONNX Runtime's graph optimisations at level '{rt.SAVE_LEVEL}' (for any CPU)", []
        elif kind == "int8":
            method, more = _int8(src, made, work, samples)
        if kind == "fp16":
            method, more, checks, accuracy = _verified_fp16(src, made, work, float_model, samples)
        else:
            _stamp(made, float_model, kind)
            checks, accuracy = verify_variant(src, made, kind, samples)
        notes += more
        if kind == "int8" and accuracy.relative_error > INT8_WARN_ERROR:
            notes.append(f"int8 changes the outputs by {accuracy.relative_error:.0%} of their size: check the "
                         "accuracy before deploying it")
        speed = None
        if kind == "fp16":
            notes.append("not timed: fp16 is for GPUs, and this CPU run says nothing of its speed there")
        else:
            speed = measure(src, made, samples, threads=threads, runs=runs)
        atomic_write(dst, lambda tmp: shutil.copyfile(made, tmp))
    return Variant(kind, dst, dst.stat().st_size, rt.stored_bytes(src, float_model), method, checks, accuracy, speed,
                   notes)


def _stamp(path: Path, float_model: onnx.ModelProto, kind: str) -> None:
    """The float model's metadata (spec name, export sizes, integer bounds) and which variant it is."""
    model = onnx.load(str(path))
    meta = {p.key: p.value for p in float_model.metadata_props}
    meta.update({p.key: p.value for p in model.metadata_props})
    meta["specc_variant"] = kind
    del model.metadata_props[:]
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    path.write_bytes(model.SerializeToString())


# -- checking and measuring -------------------------------------------------------------------------------

def _outputs(sess: Any, feeds: Mapping[str, np.ndarray], batch: int = 64) -> dict[str, np.ndarray]:
    """All outputs for ``feeds`` (many samples), run in batches and joined."""
    names = [o.name for o in sess.get_outputs()]
    n = len(next(iter(feeds.values())))
    parts = [sess.run(names, {k: v[i:i + batch] for k, v in feeds.items()}) for i in range(0, n, batch)]
    return {name: np.concatenate([p[j] for p in parts]) for j, name in enumerate(names)}


def _cast(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    dtypes = {i.name: i.dtype for i in rt.model_inputs(model)}
    return {k: np.ascontiguousarray(v.astype(dtypes.get(k, v.dtype), copy=False)) for k, v in feeds.items()}


def verify_variant(src: Path, made: Path, kind: str, samples: Samples) -> tuple[list[str], Accuracy]:
    """Checker, two batch sizes (shapes equal the float model's, outputs finite where its are;
    values within tolerance for optimized and fp16), then the error and metrics on ``samples``."""
    checks = []
    try:
        onnx.checker.check_model(str(made), full_check=kind != "optimized")
    except onnx.checker.ValidationError as exc:
        raise VariantFailed(f"the {kind} model fails onnx.checker: {str(exc).splitlines()[0]}") from None
    # the optimised graph holds ONNX Runtime's own ops, which the checker cannot infer shapes for
    checks.append("onnx.checker ok" + (" (no shape inference: ONNX Runtime ops)" if kind == "optimized" else ""))
    float_model = rt.load_untrusted(src)
    ref = rt.create_session(src, "cpu", checked=True, quiet=True)
    try:
        sess = rt.create_session(made, "cpu", checked=True, quiet=True, half=kind == "fp16")
    except ModelError as exc:
        raise VariantFailed(f"ONNX Runtime cannot load the {kind} model: {exc}") from None
    settings = []
    probe: HalfProbe | None = None
    for env, feeds, want in _two_sizes(float_model, ref):
        b = ", ".join(f"{k}={v}" for k, v in env.items()) or "its fixed sizes"
        settings.append(b)
        try:
            got = _outputs(sess, feeds)
        except Exception as exc:  # noqa: BLE001 -- onnxruntime raises its own types
            raise VariantFailed(f"the {kind} model fails at {b}, where the float model runs: {first_line(exc)}"
                                ) from None
        if kind == "fp16":  # the first overflow inside, before the NaN it spreads to the outputs
            probe = probe or HalfProbe(src, made)
            probe.check(feeds, b)
        for name, w in want.items():
            g = got[name]
            if g.shape != w.shape:
                raise VariantFailed(f"the {kind} model's output '{name}' has shape {g.shape} at {b}; "
                                    f"the float model's has {w.shape}")
            if not np.isfinite(g[np.isfinite(w)]).all():
                raise VariantFailed(f"the {kind} model's output '{name}' holds NaN or infinite values at {b} "
                                    "where the float model's are finite")
            if kind != "int8":
                rtol, atol = FP16_VARIANT_TOLERANCES if kind == "fp16" else FLOAT_TOLERANCES
                scale = max(1.0, float(np.abs(w).max(initial=0.0)))
                if not np.all(np.abs(g.astype(np.float64) - w) <= atol * scale + rtol * np.abs(w)):
                    raise VariantFailed(f"the {kind} model's output '{name}' differs from the float model's at "
                                        f"{b} by up to {np.abs(g - w).max():.3g} (tolerance rtol {rtol}, "
                                        f"atol {atol} x max(1, max |output|))")
    precision = {"fp16": "half", "optimized": "float32"}.get(kind)
    within = f", values within {precision} precision's tolerances" if precision else ""
    checks.append(f"ONNX Runtime runs it at {'; '.join(settings)} with the float model's output shapes{within}")
    if probe is not None:
        feeds = _cast(float_model, samples.validation)
        n = len(next(iter(feeds.values())))
        for i in range(0, n, 64):  # the data it will meet, where the spec has some: raw pixels reach 255
            probe.check({k: v[i:i + 64] for k, v in feeds.items()},
                        f"{samples.origin}, samples {i} to {min(i + 64, n)}")
        checks.append(probe.text())
    return checks, accuracy(ref, sess, float_model, samples)


class HalfProbe:
    """The float16 values inside an fp16 model, against the float model's values of the same name.

    ONNX Runtime's CPU has float16 kernels for few ops: it runs the others in float32 and drops
    the Casts between them, so a chain of such ops never rounds to float16 and a value past its
    range (±65504) stays finite there, where a GPU, which keeps every node's output in float16,
    gives inf and then NaN.  Each value the model holds in float16 is made an output here, which
    ONNX Runtime must write in float16: an overflow shows as inf where the float model is finite."""

    def __init__(self, src: Path, made: Path) -> None:
        half = onnx.load(str(made))
        try:
            typed = onnx.shape_inference.infer_shapes(half)
        except Exception as exc:  # noqa: BLE001 -- onnx raises InferenceError or ValidationError
            raise VariantFailed(f"ONNX shape inference fails on the fp16 model: {first_line(exc)}") from None
        halves = {v.name for v in typed.graph.value_info if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16}
        full = onnx.load(str(src))
        made_by = {o: n for n in full.graph.node for o in n.output}
        # the values both models compute (the converter keeps the names; its own Casts are new)
        self.names = [o for n in half.graph.node for o in n.output if o in halves and o in made_by]
        self.nodes = {o: made_by[o] for o in self.names}
        self.readers: dict[str, list[str]] = {}
        for n in full.graph.node:
            for i in n.input:
                self.readers.setdefault(i, []).append(n.name)
        self.half = self._session(half, onnx.TensorProto.FLOAT16)
        self.full = self._session(full, onnx.TensorProto.FLOAT)

    def _session(self, model: onnx.ModelProto, elem: int) -> Any:
        import onnxruntime as ort

        known = {o.name for o in model.graph.output}
        model.graph.output.extend(onnx.helper.make_tensor_value_info(n, elem, None)
                                  for n in self.names if n not in known)
        so = ort.SessionOptions()
        so.log_severity_level = 3
        return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])

    def check(self, feeds: Mapping[str, np.ndarray], where: str) -> None:
        if not self.names:
            return
        half = dict(zip(self.names, self.half.run(self.names, feeds)))
        full = dict(zip(self.names, self.full.run(self.names, feeds)))
        for name in self.names:  # in the graph's order: the first overflow, not the NaN it spreads
            h, f = half[name], full[name]
            if h.shape != f.shape:
                continue
            lost = np.isfinite(f) & ~np.isfinite(h)
            if lost.any():
                node = self.nodes[name]
                raise HalfOverflow(
                    f"the fp16 model overflows float16 (largest value 65504) at {where}: {node.op_type} "
                    f"'{node.name or name}' gives inf at {int(lost.sum())} of {h.size} values, where the float "
                    f"model's largest there is {float(np.abs(f[lost]).max()):.3g}; ONNX Runtime on the CPU computes "
                    "it in float32 and hides that, a GPU keeps it in float16 and gives inf or NaN. Keep this model "
                    "in float32, or bring the values into range before that layer (a norm, a smaller scale)",
                    node.name, self.readers.get(name, []))

    def text(self) -> str:
        return (f"each of its {len(self.names)} float16 values inside the model is finite where the float model's "
                "is (no overflow past 65504)")


def _two_sizes(model: onnx.ModelProto, ref: Any) -> Iterator[tuple[dict[str, int], dict[str, np.ndarray],
                                                                 dict[str, np.ndarray]]]:
    """(sizes, feeds, float outputs) at the export's sizes and at other ones: the batch at 1 (3
    when exported at 1) and every other symbol one larger, or, where the float model itself
    cannot run there (a size it needs even, or bounded), only the batch changed."""
    symbols = list(dict.fromkeys(d for i in rt.model_inputs(model) for d in i.dims if isinstance(d, str)))
    batch = {i.dims[0] for i in rt.model_inputs(model) if i.dims and isinstance(i.dims[0], str)}
    export = rt.json_meta(rt.metadata(model), "specc_sizes")
    known = {k: v for k, v in export.items() if k in symbols}
    first = rt.resolve_dims(rt.model_inputs(model), {}, batch=2, sizes=known) if symbols else {}
    first = {k: first[k] for k in symbols}
    other = {k: (1 if v != 1 else 3) if k in batch else v + 1 for k, v in first.items()}
    only_batch = {k: other[k] if k in batch else v for k, v in first.items()}
    tried = []
    for env in (first, other, only_batch):
        if env in tried:
            continue
        feeds = rt.prepare_inputs(model, {}, sizes=env, seed=len(tried))[0]
        try:
            want = _outputs(ref, feeds)
        except Exception as exc:  # noqa: BLE001 -- the float model cannot run here either: not a size to test
            if env is first:
                sizes = ", ".join(f"{k}={v}" for k, v in env.items())
                raise VariantFailed(f"the float model itself fails at the sizes it was exported with ({sizes}): "
                                    f"{first_line(exc)}") from None
            continue
        tried.append(env)
        yield env, feeds, want
        if len(tried) == 2:
            return


def accuracy(ref: Any, sess: Any, float_model: onnx.ModelProto, samples: Samples) -> Accuracy:
    """Output error of ``sess`` against ``ref`` on the validation inputs, and each one's metrics
    when the samples carry targets of a trained model."""
    feeds = _cast(float_model, samples.validation)
    want, got = _outputs(ref, feeds), _outputs(sess, feeds)
    diff = np.concatenate([(got[k].astype(np.float64) - w).ravel() for k, w in want.items()])
    base = np.concatenate([w.astype(np.float64).ravel() for w in want.values()])
    finite = np.isfinite(diff)
    rel = float(np.linalg.norm(diff[finite]) / max(np.linalg.norm(base[finite]), 1e-30))
    acc = Accuracy(samples.origin, float(np.abs(diff[finite]).max(initial=0.0)), rel)
    if samples.scored:
        acc.float_metrics = _metrics(samples, want)
        acc.variant_metrics = _metrics(samples, got)
    return acc


def _metrics(samples: Samples, outputs: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The task's scalar metrics, as `specc train` reports them on its validation split."""
    from ..validate.train_config import classes_at, head
    from .train import metrics as metrics_mod

    cfg = samples.cfg
    assert cfg is not None
    names = list(cfg["outputs"])
    out: dict[str, float] = {}
    for name in cfg.get("heads") or names[:1]:
        one = head(cfg, name) if cfg.get("heads") else cfg
        y = samples.targets[name] if isinstance(samples.targets, dict) else samples.targets
        if one["task"] not in ("classification", "binary", "regression") or name not in outputs:
            continue
        scores = metrics_mod.compute(one["task"], outputs[name].astype(np.float32), y, one["threshold"],
                                     classes_at(one))
        prefix = f"{name}_" if cfg.get("heads") else ""
        out.update({prefix + k: float(v) for k, v in scores.items() if isinstance(v, (int, float))})
    return out


def measure(src: Path, made: Path, samples: Samples, *, threads: int | None = None, runs: int = 50,
            batch: int = 1) -> Speed:
    """Latency (p50) of the float and the variant model, interleaved, at ``batch`` with ``threads``."""
    threads = threads or rt.physical_cores()
    float_model = rt.load_untrusted(src)
    feeds = _cast(float_model, {k: v[:batch] for k, v in samples.validation.items()})
    calls, loads = {}, {}

    def start(path: Path) -> Any:
        return rt.create_session(path, "cpu", threads=threads, checked=True, spin=False)

    for name, path in (("float", src), ("variant", made)):
        sess = start(path)
        calls[name] = lambda s=sess: s.run(None, feeds)
        loads[name] = lambda p=path: start(p)
    times, _ = time_interleaved(calls, runs, max_seconds=5.0)
    load_times, _ = time_interleaved(loads, 3, warmup=0, burst=1, min_rounds=3, max_seconds=2.0)

    def p50(t: Sequence[float] | None) -> float | None:
        return float(np.median(t) * 1000) if t else None

    return Speed(threads, batch, p50(times.get("float")), p50(times.get("variant")),
                 p50(load_times.get("float")), p50(load_times.get("variant")))
