"""Side-by-side latency and throughput of one spec's model on every engine this machine has.

All engines run in one process on the same weights and inputs: PyTorch eager, torch.compile
(when it works), ONNX Runtime on the CPU, and — when a GPU is really usable — PyTorch and
ONNX Runtime on CUDA. PyTorch and ONNX Runtime get the same number of threads (the physical
cores), so the comparison is of engines, not of thread settings.

Numbers are wall-clock medians (p50) and 90th percentiles of single calls after warm-up, taken
in rounds (each engine once per round) so that load from elsewhere on the machine falls on all
engines alike; throughput is batch / p50. Absolute times depend on the machine: compare ratios.
"""

from __future__ import annotations

import contextlib
import io
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from ..version import __version__
from . import ort as rt
from .onnx_export import export_module, signature_of, sizes_valid, spec_inputs
from .timing import first_line as _first_line
from .timing import time_interleaved
from .verify import export_env

Progress = Callable[[str], None]
EAGER, COMPILED, ORT = "torch eager", "torch.compile", "onnxruntime"


@dataclass
class Measurement:
    engine: str
    device: str
    batch: int
    p50_ms: float | None = None
    p90_ms: float | None = None
    runs: int = 0
    note: str = ""  # why it did not run, or what else happened (compile time)

    @property
    def throughput(self) -> float | None:
        return self.batch / (self.p50_ms / 1000) if self.p50_ms else None


@dataclass
class BenchReport:
    spec: str
    params: int
    exporter: str
    export_seconds: float
    threads: int
    machine: dict[str, Any] = field(default_factory=dict)
    rows: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def find(self, engine: str, device: str, batch: int) -> Measurement | None:
        return next((r for r in self.rows if (r.engine, r.device, r.batch) == (engine, device, batch)), None)

    def speedup(self, row: Measurement) -> float | None:
        """How many times faster than PyTorch eager on the same device and batch."""
        base = self.find(EAGER, row.device, row.batch)
        if base is None or not base.p50_ms or not row.p50_ms:
            return None
        return base.p50_ms / row.p50_ms

    def to_json(self) -> dict[str, Any]:
        rows = []
        for r in self.rows:
            d = asdict(r)
            d["throughput_per_s"] = r.throughput
            d["speedup_vs_eager"] = self.speedup(r)
            rows.append(d)
        return {"spec": self.spec, "params": self.params, "exporter": self.exporter,
                "export_seconds": round(self.export_seconds, 4), "threads": self.threads,
                "machine": self.machine, "rows": rows, "notes": self.notes}

    def render(self) -> str:
        head = (f"{self.spec}: {self.params:,} params; ONNX export ({self.exporter}) {self.export_seconds:.2f} s; "
                f"{self.threads} CPU thread{'s' if self.threads != 1 else ''}; torch {self.machine.get('torch')}, "
                f"onnxruntime {self.machine.get('onnxruntime')}")
        cols = ("engine", "device", "batch", "p50 ms", "p90 ms", "samples/s", "vs eager", "")
        lines = []
        for r in self.rows:
            s = self.speedup(r)
            lines.append((r.engine, r.device, str(r.batch), _ms(r.p50_ms), _ms(r.p90_ms),
                          f"{r.throughput:,.1f}" if r.throughput else "-", f"{s:.2f}x" if s else "-", r.note))
        widths = [max(len(c), *(len(line[i]) for line in lines)) for i, c in enumerate(cols)]
        right = {2, 3, 4, 5, 6}

        def fmt(row: tuple[str, ...]) -> str:
            return "  ".join(v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths)))

        out = [head, fmt(cols).rstrip(), "  ".join("-" * w for w in widths[:-1])]
        out += [fmt(line).rstrip() for line in lines]
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)


def _ms(v: float | None) -> str:
    return f"{v:.3f}" if v is not None else "-"


def _row(engine: str, device: str, batch: int, times: list[float] | None, note: str = "") -> Measurement:
    if not times:
        return Measurement(engine, device, batch, note=note)
    ms = np.array(times) * 1000
    return Measurement(engine, device, batch, float(np.percentile(ms, 50)), float(np.percentile(ms, 90)),
                       len(ms), note)


def _ort_cuda_call(sess: ort.InferenceSession, feeds: dict[str, np.ndarray]) -> Callable[[], Any]:
    """A call with inputs already on the GPU and outputs left there (IO binding), as a server would."""
    binding = sess.io_binding()
    for name, array in feeds.items():
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array), "cuda", 0))
    for out in sess.get_outputs():
        binding.bind_output(out.name, "cuda")

    def call() -> None:
        sess.run_with_iobinding(binding)
        binding.synchronize_outputs()

    return call


def bench_spec(spec: Any, *, batches: list[int] | tuple[int, ...] = (1, 64), runs: int = 50, compile: bool = True,
               max_seconds: float = 10.0, threads: int | None = None,
               progress: Progress | None = None) -> BenchReport:
    """Measure every engine at every batch size with ``threads`` CPU threads each (default: the
    physical cores). ``spec`` must be valid (SpecInvalid otherwise)."""
    from .torch_build import build_module

    spec.require_ok()
    threads = threads or rt.physical_cores()
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _bench(spec, build_module(spec, seed=0).eval(), list(batches), runs, compile, max_seconds,
                      threads, progress or (lambda _: None))
    finally:
        torch.set_num_threads(old_threads)


def _bench(spec: Any, module: torch.nn.Module, batches: list[int], runs: int, compile: bool, max_seconds: float,
           threads: int, progress: Progress) -> BenchReport:
    sig = signature_of(spec)
    make = spec_inputs(spec, sig)
    opts = spec.document.export
    env0 = export_env(sig, opts.batch_size, opts.sizes, sizes_valid(spec))
    gpu = torch.cuda.is_available()
    cuda_ok, cuda_why = rt.cuda_status()
    machine = {"python": platform.python_version(), "torch": torch.__version__, "onnxruntime": ort.__version__,
               "specc": __version__, "cpu": platform.processor() or platform.machine(), "physical_cores": threads,
               "gpu": torch.cuda.get_device_name(0) if gpu else None}
    with tempfile.TemporaryDirectory(prefix="specc-bench-") as tmp:
        progress("exporting to ONNX")
        exported = export_module(module, sig, Path(tmp) / "model.onnx", make_inputs=make, env=env0,
                                 opset=opts.opset, exporter=opts.exporter, verify_model=False)
        assert exported.path is not None
        report = BenchReport(spec.name, sum(p.numel() for p in module.parameters()), exported.exporter,
                             exported.seconds, threads, machine, notes=list(exported.notes))
        # no spinning: idle ONNX Runtime threads would otherwise steal the cores PyTorch is timed on
        sessions = {"cpu": rt.create_session(exported.path, "cpu", threads=threads, checked=True, spin=False)}
        if cuda_ok:
            sessions["cuda"] = rt.create_session(exported.path, "cuda", checked=True)
        else:
            report.notes.append(f"onnxruntime on CUDA skipped: {cuda_why}")
        compiled: torch.nn.Module | None = None
        if compile:
            compiled = torch.compile(module)  # type: ignore[assignment]
        else:
            report.notes.append("torch.compile skipped (--no-compile)")
        devices = ["cpu", "cuda"] if gpu else ["cpu"]
        groups = [(d, b) for d in devices for b in batches]
        for step, (device, batch) in enumerate(groups, 1):
            label = f"[{step}/{len(groups)}] {device} batch {batch}"
            env = {**env0, **({sig.batch_symbol: batch} if sig.batch_symbol else {})}
            inputs = make(env)
            feeds = {t.name: x.numpy() for t, x in zip(sig.inputs, inputs)}
            dev_module = module if device == "cpu" else _to_cuda(module)
            dev_inputs = tuple(x.to(device) for x in inputs)
            calls: dict[str, Callable[[], Any]] = {EAGER: lambda m=dev_module, x=dev_inputs: m(*x)}
            notes: dict[str, str] = {}
            with torch.inference_mode():
                if compiled is not None and device == "cpu":
                    progress(f"{label}: compiling with torch.compile")
                    call, notes[COMPILED] = _compile_call(compiled, dev_inputs)
                    if call is not None:
                        calls[COMPILED] = call
                if device in sessions:
                    sess = sessions[device]
                    calls[ORT] = (_ort_cuda_call(sess, feeds) if device == "cuda"
                                  else (lambda s=sess, f=feeds: s.run(None, f)))
                if step == 1:
                    report.notes += _agreement(module, sessions["cpu"], inputs, feeds, opts.rtol, opts.atol)
                progress(f"{label}: timing {', '.join(calls)}")
                times, failed = time_interleaved(calls, runs, max_seconds=max_seconds,
                                                 sync=torch.cuda.synchronize if device == "cuda" else None)
            for engine in (EAGER, COMPILED, ORT):
                if engine in calls or engine in notes:
                    note = failed.get(engine) or notes.get(engine, "")
                    report.rows.append(_row(engine, device, batch, times.get(engine), note))
    return report


def _to_cuda(module: torch.nn.Module) -> torch.nn.Module:
    import copy

    return copy.deepcopy(module).to("cuda")


def _compile_call(compiled: Any, inputs: tuple[torch.Tensor, ...]) -> tuple[Callable[[], Any] | None, str]:
    """The first call compiles for these shapes (and is where torch.compile's errors surface)."""
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            compiled(*inputs)
    except Exception as exc:  # noqa: BLE001 -- torch.compile fails in many ways; report and go on
        return None, f"torch.compile failed: {_first_line(exc)}"
    return (lambda: compiled(*inputs)), f"first call (compile) {time.perf_counter() - started:.1f} s"


def _agreement(module: torch.nn.Module, sess: ort.InferenceSession, inputs: tuple[torch.Tensor, ...],
               feeds: dict[str, np.ndarray], rtol: float, atol: float) -> list[str]:
    """A cheap sanity check that the timed ONNX model computes what the module does."""
    with torch.inference_mode():
        ref = module(*inputs)
    refs = ref if isinstance(ref, (tuple, list)) else (ref,)
    got = sess.run(None, feeds)
    if all(np.allclose(g, r.numpy(), rtol=rtol, atol=atol) for g, r in zip(got, refs)):
        return []
    return ["onnxruntime's outputs differ from PyTorch's; run `specc export` to see the verification report"]
