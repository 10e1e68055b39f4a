"""The direct ONNX target on ONNX Runtime against the PyTorch target in eager mode, same weights.

For each spec (default: the Transformer examples), the PyTorch target's module is built, its
state dict saved with safetensors, and the direct target writes (and verifies against that
module) the ONNX model with those weights.  Both are then timed interleaved at batch 1 and the
spec's export sizes, with 1 and 2 threads (``specc.backends.bench.time_interleaved``); the ratio
eager p50 / ONNX Runtime p50 is printed (above 1: ONNX Runtime faster).  Eager PyTorch runs in
inference mode with its fast paths on, as a user would run it.  Absolute times depend on the
machine and its load; the ratios are the claim.

Run:  .venv/bin/python bench/direct_vs_eager.py [--threads 1,2] [--runs 200] [SPEC ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

import specc  # noqa: E402
from specc.backends import ort as rt  # noqa: E402
from specc.backends.bench import time_interleaved  # noqa: E402
from specc.backends.direct_export import example_arrays, export_direct  # noqa: E402
from specc.backends.torch_build import build_module  # noqa: E402
from specc.backends.verify import signature_of  # noqa: E402

SPECS = ("specs/transformer_text.yaml", "specs/zoo/decoder_lm.yaml", "specs/zoo/seq2seq_transformer.yaml")


def bench(path: str, threads: list[int], runs: int) -> list[str]:
    spec = specc.load(ROOT / path if not Path(path).is_absolute() else path)
    spec.require_ok()
    module = build_module(spec, seed=0).eval()
    lines = []
    with tempfile.TemporaryDirectory(prefix="specc-direct-bench-") as tmp:
        weights = Path(tmp) / "model.safetensors"
        # clones: safetensors refuses tensors that share memory (a tied weight)
        save_file({k: v.detach().clone().contiguous() for k, v in module.state_dict().items()}, str(weights))
        started = time.perf_counter()
        result = export_direct(spec, Path(tmp) / "model.onnx", weights=weights, compare="torch")
        lines.append(f"{spec.name}: direct export with verification against PyTorch "
                     f"{time.perf_counter() - started:.2f} s in-process")
        assert result.path is not None
        sig = signature_of(spec)
        env = {**result.sizes, **({sig.batch_symbol: 1} if sig.batch_symbol else {})}
        feeds = example_arrays(spec, sig, env)
        inputs = tuple(torch.from_numpy(a) for a in feeds.values())
        old = torch.get_num_threads()
        try:
            for n in threads:
                torch.set_num_threads(n)
                sess = rt.create_session(result.path, "cpu", threads=n, spin=False)
                with torch.inference_mode():
                    times, failed = time_interleaved({"ort": lambda s=sess: s.run(None, feeds),
                                                      "eager": lambda: module(*inputs)}, runs, max_seconds=20)
                if failed:
                    lines.append(f"  {n} thread(s): {failed}")
                    continue
                ort_ms, eager_ms = (float(np.percentile(times[k], 50)) * 1e3 for k in ("ort", "eager"))
                lines.append(f"  {env} {n} thread(s): ONNX Runtime {ort_ms:.3f} ms, eager {eager_ms:.3f} ms, "
                             f"{eager_ms / ort_ms:.2f}x")
        finally:
            torch.set_num_threads(old)
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=200, help="timed calls per engine (capped at ~20 s)")
    ap.add_argument("specs", nargs="*", default=list(SPECS))
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    for path in args.specs:
        print("\n".join(bench(path, threads, args.runs)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
