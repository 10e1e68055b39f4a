"""Recurrent models on the CPU at batch 1: PyTorch eager against ONNX Runtime running the model the
direct target writes (``--via direct``: ONNX's own GRU/LSTM ops, a Scan for ConvLSTM2d) and the one
torch.onnx writes (``--via torch``), all three with the same weights and inputs, in one process.

Prints the p50 of each engine and the ratios eager / ORT (above 1: ONNX Runtime is faster), at 1
and 2 threads, plus the whole export time (lowering, saving and verification) of each route.
Absolute times depend on the machine and its load; the ratios are the claim.

Run:  .venv/bin/python bench/recurrent_direct.py [--runs 200] [--threads 1,2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import specc  # noqa: E402

# The example specs whose every kind the direct target lowers today, and stand-ins for the others
# (the same recurrent layers on float features) while their embedding or conv kinds are pending.
MODELS = {
    "gru_timeseries (specs/)": (ROOT / "specs/gru_timeseries.yaml").read_text(),
    "bilstm 2x64 over (1, 24, 64)": """specc: 1
name: BiLSTM
inputs: {x: [B, T, 64]}
layers:
  - {type: LSTM, hidden_size: 64, num_layers: 2, bidirectional: true, output: last}
  - {type: Linear, out_features: 4}
export: {batch_size: 1, sizes: {T: 24}}
""",
    "convlstm [16, 16] over (1, 6, 1, 32, 32)": """specc: 1
name: ConvLSTM
inputs: {x: [B, T, 1, 32, 32]}
layers:
  - {type: ConvLSTM2d, hidden_channels: [16, 16], kernel_size: 3}
export: {exporter: dynamo, batch_size: 1, sizes: {T: 6}}
""",
}


def p50(fn: Callable[[], object], runs: int) -> float:
    for _ in range(5):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _times(module: Any, xs: list[Any], sessions: list[Any], feeds: dict[str, np.ndarray],
           runs: int) -> tuple[float, float, float]:
    """p50 seconds of eager, then of each ONNX Runtime session, once the direct model is seen to agree."""
    import torch

    with torch.no_grad():
        want = module(*xs)
        eager = p50(lambda: module(*xs), runs)
    got = sessions[0].run(None, feeds)[0]
    assert np.allclose(got, want.numpy(), atol=1e-4), "the direct model differs from eager"
    direct, via_torch = (p50(lambda s=s: s.run(None, feeds), runs) for s in sessions)
    return eager, direct, via_torch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()

    import onnxruntime as ort
    import torch

    from specc.backends.direct_export import example_arrays, export_direct
    from specc.backends.onnx_export import export_spec
    from specc.backends.torch_build import build_module
    from specc.backends.verify import signature_of

    print(f"{'model':42} {'thr':>3} {'eager ms':>9} {'direct ms':>9} {'torch-onnx ms':>13} "
          f"{'eager/direct':>12} {'eager/torch-onnx':>16}")
    for name, text in MODELS.items():
        spec = specc.loads(text, f"{name}.yaml")
        spec.require_ok()
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            export_direct(spec, Path(tmp) / "direct.onnx", compare="torch")
            direct_s = time.perf_counter() - started
            started = time.perf_counter()
            export_spec(spec, Path(tmp) / "torch.onnx")
            torch_s = time.perf_counter() - started
            # the same weights everywhere: the torch route's module, as a checkpoint for the direct one
            module = build_module(spec, seed=0).eval()
            from safetensors.torch import save_file

            save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(Path(tmp) / "w.safetensors"))
            export_direct(spec, Path(tmp) / "direct.onnx", weights=Path(tmp) / "w.safetensors", verify_model=False)
            sig = signature_of(spec)
            env = {s: 1 if s == "B" else v for s, v in spec.document.export.sizes.items()} | {"B": 1}
            feeds = example_arrays(spec, sig, env)
            xs = [torch.from_numpy(a) for a in feeds.values()]
            for n in (int(t) for t in args.threads.split(",")):
                torch.set_num_threads(n)
                so = ort.SessionOptions()
                so.intra_op_num_threads, so.inter_op_num_threads = n, 1
                sessions = [ort.InferenceSession(str(Path(tmp) / f), so, providers=["CPUExecutionProvider"])
                            for f in ("direct.onnx", "torch.onnx")]
                eager, direct, via_torch = _times(module, xs, sessions, feeds, args.runs)
                print(f"{name:42} {n:>3} {eager * 1e3:9.3f} {direct * 1e3:9.3f} {via_torch * 1e3:13.3f} "
                      f"{eager / direct:12.2f} {eager / via_torch:16.2f}")
        print(f"{'':42} export with verification: direct {direct_s:.2f} s, torch route {torch_s:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
