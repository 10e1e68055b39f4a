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

Goals (issue 11): direct ResNet-18 <= 0.5 s, VGG-11 <= 3 s, Transformer <= 1 s, verification included,
for the deploy route (direct, shapes: the best wall time of the runs).  A plain ``specc export`` where
torch is installed takes the direct, torch row (``--compare auto`` means torch when it is there):
importing torch alone costs more than the whole deploy route.  Each route runs once untimed first,
and the children run without PYTHONDONTWRITEBYTECODE, so that specc's bytecode is cached as pip
leaves an installed package's (with it set and no cache, every run compiled specc's sources:
ResNet-18 1.19 s instead of 0.79 s).  The CPU column counts every thread of the process.

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

Then (ResNet-18 under callgrind: 5.27 G instructions, of which ONNX Runtime's session and three runs
43 %, imports 28 % -- numpy, onnx, onnxruntime and Pydantic alone 0.95 G --, the weights' PCG64 draw
6 %, the checker 3 %): the verification session's threads stop spinning between runs, the weights are
drawn with SFC64 (half the cost per float32), the model is fsynced on a thread while it is verified,
and the session is started as soon as the model is written, so that the references (with
``--compare torch``: importing torch and building and running the module) are made while it is
built.  Alternated on one machine, busy (load ~4 on 2 cores) against the tree before: ResNet-18
0.88 -> 0.79 s wall, 0.88 -> 0.79 s CPU, 5.27 G -> 5.00 G instructions; VGG-11 2.46 -> 2.16 s; the
Transformer 2.19 G -> 1.96 G instructions; with ``--compare torch``, ResNet-18 4.87 -> 4.20 s.
The rest of ResNet-18's time is imports (~0.25 s of CPU before the spec is read), the session
(~0.15 s: parsing the 45 MB file, fusing batch norms into the convolutions, NCHWc) and the six
images of the three runs (~0.14 s on one core), which verification needs.

Session 28, where the deploy route's imports go, in instructions (callgrind, ``python -c "import
..."`` adding one package at a time): Python's start 90 M, specc's pipeline with Pydantic and PyYAML
726 M (what ``check`` pays), numpy 247 M, onnx 216 M (its ``__init__`` imports every submodule --
compose, helper with ml_dtypes, protobuf's json_format, gen_proto with subprocess -- and reads its
own version through importlib.metadata, which imports email, csv and zipfile), onnxruntime 305 M,
specc's export modules 99 M (the verification's ThreadPoolExecutor and its logging 14 M).  Of these
only specc's 99 M are specc's to cut; onnx and onnxruntime load whole whatever one uses of them.
In-process (thread CPU), ResNet-18's checker with ``full_check`` takes ~80 ms, ~60 ms of it the
shape inference it runs on the file with its 45 MB of weights (on the weightless model the same
inference takes ~1 ms), and drawing the 11.7 M weights ~65 ms (SFC64's float32 draw; scaling adds
~15 ms).  Verification's own shape inference now runs once (the layer check reads the outputs'
pass): the Transformer's two passes cost 15.0 M, one 12.5 M.

Run:  .venv/bin/python bench/export_speed.py [--runs 5] [--routes direct-shapes,direct-torch,torchscript,dynamo]
                                            [--against TREE]  (a checkout to compare, alternated)
      .venv/bin/python bench/export_speed.py --phases specs/zoo/vgg11_bn.yaml
"""

from __future__ import annotations

import argparse
import functools
import os
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


# The child's environment: without PYTHONDONTWRITEBYTECODE, which some shells and CI images set and
# which made every run compile specc's sources again (ResNet-18: 1.19 s instead of 0.79 s); an
# installed package has its bytecode compiled by pip.  An untimed first run of each route writes it.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def once(spec: str, route: list[str], out: Path, tree: Path = ROOT) -> tuple[float, float] | str:
    """(wall, CPU seconds of the process and its threads) of one ``specc export`` by the specc of
    ``tree`` (a checkout), or why it failed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "specc", "export", str(ROOT / spec), "-o", str(out), *route],
                          cwd=tree, capture_output=True, text=True, env={**CHILD_ENV, "PYTHONPATH": str(tree)})
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["failed"])[-1][:70]
    return seconds, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


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
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--routes", default=",".join(ROUTES))
    ap.add_argument("--specs", default=",".join(SPECS))
    ap.add_argument("--against", metavar="TREE", help="another checkout (e.g. `git archive HEAD~1 | tar -x -C "
                    "TREE`): each route also runs with its specc, alternated with this one's, as ROUTE@before")
    args = ap.parse_args()
    if args.phases:
        phases(args.phases)
        return
    trees = {r: ROOT for r in args.routes.split(",")}
    if args.against:
        trees.update({f"{r}@before": Path(args.against).resolve() for r in args.routes.split(",")})
    routes = list(trees)
    names = args.specs.split(",")
    # the best of the runs is the goals' measure: on a shared machine, the others measure its neighbours
    print(f"whole-process `specc export`, verification included: wall seconds, best / median of {args.runs} "
          "runs, and the best CPU seconds (all threads)\n")
    print(f"{'model':<12}" + "".join(f"{r:>24}" for r in routes) + f"{'goal (direct)':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            times: dict[str, list[tuple[float, float]]] = {r: [] for r in routes}
            failed: dict[str, str] = {}
            for r in routes:  # untimed: bytecode caches written, files in the page cache
                warm = once(SPECS[name], ROUTES[r.removesuffix("@before")], Path(tmp) / f"{r}.onnx", trees[r])
                if isinstance(warm, str):
                    failed[r] = warm
            for _ in range(args.runs):
                for r in routes:
                    if r in failed:
                        continue
                    t = once(SPECS[name], ROUTES[r.removesuffix("@before")], Path(tmp) / f"{r}.onnx", trees[r])
                    if isinstance(t, str):
                        failed[r] = t
                    else:
                        times[r].append(t)
            cells = []
            for r in routes:
                walls, cpus = [w for w, _ in times[r]], [c for _, c in times[r]]
                cells.append(f"{'failed':>24}" if r in failed else
                             f"{min(walls):>10.2f} /{statistics.median(walls):>5.2f} cpu{min(cpus):>5.2f}")
            goal = GOALS.get(name)
            best = min((w for w, _ in times.get("direct-shapes", [])), default=None)
            mark = "" if goal is None else f"<= {goal} s " + ("met" if best is not None and best <= goal else "missed")
            print(f"{name:<12}" + "".join(cells) + f"{mark:>16}")
            for r, why in failed.items():
                print(f"    {r}: {why}")
            if times.get("torchscript") and times.get("direct-shapes"):
                ratio = (statistics.median(w for w, _ in times["torchscript"]) /
                         statistics.median(w for w, _ in times["direct-shapes"]))
                print(f"    direct (shapes) is {ratio:.1f}x faster than torchscript")

if __name__ == "__main__":
    main()
