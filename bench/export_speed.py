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

``--phases SPEC`` prints where one direct export's time goes, in this process (wall and CPU
seconds per step: imports, loading the spec, lowering with the weights drawn, writing,
checker, ONNX Runtime's session and runs, publishing).

What the phases showed, and what changed (VGG-11, 132 M weights, 531 MB): the weights were
copied about eight times on their way to disk and back -- numpy to protobuf (from_array), into
the graph, ByteSize and serialising, writing, the checker and ``onnx.load`` reading the file
back, ONNX Runtime parsing the inline protobuf -- and every fresh copy paid page faults, which on
this machine cost more than the copying (7 s of the 10 s were system time).  Now the weights stay
numpy arrays until written (``backends/onnx_files.save``: inline models framed by hand with each
tensor's bytes written from its array, or a page-aligned side file past 256 MiB, which ONNX Runtime
loads in a third of the time); verification checks the file on disk but takes the weightless model
it wrote instead of reading it back; files are renamed into place, not copied; the verification
session skips pre-packing the weights (0.7 s for VGG, more than its three runs gain); the CLI
turns off numpy's huge-page advice (with the kernel's ``defrag=madvise``, the first touch of 500 MB
cost 1.2 s instead of 0.18 s); and the lowerings load by family.  ResNet-18 is now bound by imports
(numpy, onnx, onnxruntime, Pydantic: ~0.3 s of CPU before specc reads the spec) and ONNX Runtime's
session and runs.  Then the session, the critical path, is built on a second thread while the checker
and shape inference run (all three release the GIL), and the command line skips the interpreter's
teardown when torch is not loaded (freeing onnx, ONNX Runtime and numpy cost ~70 ms after the last
line was printed).  Alternated on one machine against the tree before: ResNet-18 0.93 -> 0.72 s (and,
busier, 1.07 -> 0.87 s); VGG-11 2.50 -> 2.41 s, whose time is the weights' drawing, writing and session.

Run:  .venv/bin/python bench/export_speed.py [--runs 3] [--routes direct-shapes,direct-torch,torchscript,dynamo]
      .venv/bin/python bench/export_speed.py --phases specs/zoo/vgg11_bn.yaml
"""

from __future__ import annotations

import argparse
import functools
import resource
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


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def phases(spec_path: str) -> None:
    """One direct export (compare: shapes) in this process, each step timed."""
    import os

    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")  # as the CLI does
    started, cpu0 = time.perf_counter(), _cpu()
    sys.path.insert(0, str(ROOT))
    import specc
    from specc.backends import direct_export, routes, verify

    print(f"{'step':<24}{'wall s':>9}{'cpu s':>9}")
    print(f"{'imports':<24}{time.perf_counter() - started:>9.3f}{_cpu() - cpu0:>9.3f}")

    def timed(module: object, name: str) -> None:
        fn = getattr(module, name)

        @functools.wraps(fn)
        def wrapper(*args: object, **kwargs: object) -> object:
            t, c = time.perf_counter(), _cpu()
            try:
                return fn(*args, **kwargs)
            finally:
                print(f"{name:<24}{time.perf_counter() - t:>9.3f}{_cpu() - c:>9.3f}")

        setattr(module, name, wrapper)

    for module, name in ((direct_export, "lower_graph"), (direct_export, "save"), (verify, "_checker"),
                         (verify, "create_session"), (verify, "compare_runs"), (direct_export, "publish")):
        timed(module, name)
    t, c = time.perf_counter(), _cpu()
    spec = specc.load(spec_path)
    print(f"{'load the spec':<24}{time.perf_counter() - t:>9.3f}{_cpu() - c:>9.3f}")
    with tempfile.TemporaryDirectory() as tmp:
        routes.export(spec, Path(tmp) / "model.onnx", via="direct", compare="shapes")
    print(f"{'total':<24}{time.perf_counter() - started:>9.3f}{_cpu() - cpu0:>9.3f}"
          "   (compare_runs includes create_session)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phases", metavar="SPEC", help="time the steps of one direct export of SPEC, in process")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--routes", default=",".join(ROUTES))
    ap.add_argument("--specs", default=",".join(SPECS))
    args = ap.parse_args()
    if args.phases:
        phases(args.phases)
        return
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
