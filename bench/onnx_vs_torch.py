"""How much faster is the exported ONNX model on ONNX Runtime than the same module in eager PyTorch?

For the course CNN, the MLP and ResNet-18 (specs/), at batch 1 and batch 64, in one process
with the same weights, inputs and thread count for both engines (specc.backends.bench): the
ratio torch-eager p50 / ONNX-Runtime-CPU p50 (above 1 means ONNX Runtime is faster). The goal
is at least 1.5x at batch 1 on the CPU. With a usable GPU the CUDA ratios are printed too.

Each spec is measured with 1 thread and with the physical cores: on a machine shared with
other work, multi-threaded PyTorch (OpenMP) stalls when one of its threads is descheduled,
which inflates its times far more than ONNX Runtime's; the 1-thread column is the steadier
comparison there. Absolute times depend on the machine and its load; the ratios are the claim.

Run:  .venv/bin/python bench/onnx_vs_torch.py [--runs 50] [--threads 1,2] [--compile] [--format json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import specc  # noqa: E402
from specc.backends.bench import EAGER, ORT, BenchReport, bench_spec  # noqa: E402
from specc.backends.ort import physical_cores  # noqa: E402

SPECS = ("specs/course_cnn.yaml", "specs/mlp_regression.yaml", "specs/resnet18.yaml")
GOAL = 1.5


def ratio(report: BenchReport, device: str, batch: int) -> float | None:
    row = report.find(ORT, device, batch)
    return report.speedup(row) if row is not None else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50, help="timed rounds per measurement (capped at ~10 s each)")
    ap.add_argument("--batches", default="1,64")
    ap.add_argument("--threads", default=None,
                    help="comma-separated CPU thread counts to compare at (default: 1 and the physical cores)")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    ap.add_argument("--format", choices=("text", "json"), default="text")
    ap.add_argument("specs", nargs="*", default=list(SPECS))
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    threads = ([int(t) for t in args.threads.split(",")] if args.threads
               else sorted({1, physical_cores()}))
    reports: list[tuple[int, BenchReport]] = []
    for path in args.specs:
        spec = specc.load(ROOT / path if not Path(path).is_absolute() else path)
        if not spec.ok:
            sys.stderr.write(f"{path}: the spec has errors; skipped\n")
            continue
        for n in threads:
            sys.stderr.write(f"benchmarking {path} with {n} thread{'s' if n != 1 else ''} ...\n")
            reports.append((n, bench_spec(spec, batches=batches, runs=args.runs, compile=args.compile, threads=n)))
    devices = sorted({r.device for _, rep in reports for r in rep.rows if r.engine == ORT})
    if args.format == "json":
        print(json.dumps([{"spec": rep.spec, "threads": n, "report": rep.to_json(),
                           "ort_over_eager": {d: {str(b): ratio(rep, d, b) for b in batches} for d in devices}}
                          for n, rep in reports], indent=2))
        return 0
    for _, rep in reports:
        print(rep.render())
        print()
    head = ["spec", "threads", *[f"{d} batch {b}" for d in devices for b in batches]]
    rows = [[rep.spec, str(n), *[_x(ratio(rep, d, b)) for d in devices for b in batches]] for n, rep in reports]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print(f"ONNX Runtime speed-up over {EAGER} (p50 latency ratio; >1 = ONNX Runtime faster)")
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for r in rows:
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))))
    met = [f"{rep.spec}@{n}" for n, rep in reports if (ratio(rep, "cpu", 1) or 0) >= GOAL]
    print(f"goal ONNX Runtime >= {GOAL}x eager at batch 1 on the CPU: met in {len(met)} of {len(reports)} settings"
          + (f" ({', '.join(met)})" if met else ""))
    return 0


def _x(v: float | None) -> str:
    return f"{v:.2f}x" if v is not None else "-"


if __name__ == "__main__":
    sys.exit(main())
