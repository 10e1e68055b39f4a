"""Whole-process export time, side by side in one run: the direct ONNX target against the torch
exporters (TorchScript, dynamo), each including its verification.

For each spec, ``specc export`` runs as a fresh process (what a user or a CI job pays) by each
route, the runs of the routes alternated so that all see the same machine:

* direct, shapes  -- ``--via direct --compare shapes``: checker, shape inference of every layer,
  ONNX Runtime at the export sizes and two others with the spec's output shapes (what
  ``specc[deploy]`` does, no torch imported);
* direct, torch   -- ``--via direct --compare torch``: the same, and ONNX Runtime equal to the
  PyTorch target with the same weights (imports torch);
* torchscript / dynamo -- ``--via torch --exporter ...``: trace, export, and the same verification
  against PyTorch.

Goals (issue 11): direct ResNet-18 <= 0.5 s, VGG-11 <= 3 s, Transformer <= 1 s, verification included.

Run:  .venv/bin/python bench/export_speed.py [--runs 3] [--routes direct-shapes,direct-torch,torchscript,dynamo]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECS = {"ResNet-18": "specs/resnet18.yaml", "VGG-11": "specs/zoo/vgg11_bn.yaml",
         "Transformer": "specs/transformer_text.yaml", "BiLSTM": "specs/bilstm_text.yaml"}
ROUTES = {"direct-shapes": ["--via", "direct", "--compare", "shapes"],
          "direct-torch": ["--via", "direct", "--compare", "torch"],
          "torchscript": ["--via", "torch", "--exporter", "torchscript"],
          "dynamo": ["--via", "torch", "--exporter", "dynamo"]}
GOALS = {"ResNet-18": 0.5, "VGG-11": 3.0, "Transformer": 1.0}


def once(spec: str, route: list[str], out: Path) -> float | str:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "specc", "export", str(ROOT / spec), "-o", str(out), *route],
                          cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["failed"])[-1][:70]
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--routes", default=",".join(ROUTES))
    ap.add_argument("--specs", default=",".join(SPECS))
    args = ap.parse_args()
    routes = args.routes.split(",")
    names = args.specs.split(",")
    print(f"whole-process `specc export`, median of {args.runs} runs, seconds (verification included)\n")
    print(f"{'model':<12}" + "".join(f"{r:>16}" for r in routes) + f"{'goal (direct)':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            times: dict[str, list[float]] = {r: [] for r in routes}
            failed: dict[str, str] = {}
            for _ in range(args.runs):
                for r in routes:
                    if r in failed:
                        continue
                    t = once(SPECS[name], ROUTES[r], Path(tmp) / f"{r}.onnx")
                    if isinstance(t, str):
                        failed[r] = t
                    else:
                        times[r].append(t)
            cells = []
            for r in routes:
                cells.append(f"{'failed':>16}" if r in failed else f"{statistics.median(times[r]):>16.2f}")
            goal = GOALS.get(name)
            best = min((statistics.median(times[r]) for r in ("direct-shapes",) if r in routes and times[r]),
                       default=None)
            mark = "" if goal is None else f"<= {goal} s " + ("met" if best is not None and best <= goal else "missed")
            print(f"{name:<12}" + "".join(cells) + f"{mark:>16}")
            for r, why in failed.items():
                print(f"    {r}: {why}")
            if "torchscript" in routes and times.get("torchscript") and times.get("direct-shapes"):
                ratio = statistics.median(times["torchscript"]) / statistics.median(times["direct-shapes"])
                print(f"    direct (shapes) is {ratio:.1f}x faster than torchscript")


if __name__ == "__main__":
    main()
