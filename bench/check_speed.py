"""How fast is `specc check`, next to the usual way of learning a model's shapes?

Prints, in one run:

1. `specc check specs/resnet18.yaml` as a whole process, against the usual alternative as
   a whole process: import torch, build the same ResNet-18 with torch.nn
   (tests/reference_models.py) and run a torchinfo-style dummy forward with hooks that
   record every layer's output shape and parameter count.  Medians of several runs, and
   the ratio (goal: specc at least 7x faster).
2. The scaling of check on generated chains of 100, 1,000 and 10,000 layers: in-process
   time of ``specc.loads`` and the time per layer (goal: flat, i.e. linear growth).

3. With ``--against DIR`` (another checkout of specc, e.g. ``git worktree add /tmp/prev HEAD~1``):
   check of the same spec as a whole process from that tree and from this one, runs alternated
   in one loop so that both see the same machine, and the ratio.

Run:  .venv/bin/python bench/check_speed.py [--runs 7] [--sizes 100,1000,10000] [--profile] [--against DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = "specs/resnet18.yaml"
sys.path.insert(0, str(ROOT))

# The usual alternative, as a user would run it: a script that builds the model in PyTorch
# and pushes a dummy batch through it with forward hooks (what torchinfo.summary does).
TORCH_ROUTE = f"""
import sys
sys.path.insert(0, {str(ROOT / "tests")!r})
import torch
from reference_models import ResNet18

model = ResNet18(num_classes=1000).eval()
rows = []

def hook(module, inputs, output):
    own = sum(p.numel() for p in module.parameters(recurse=False))
    rows.append((type(module).__name__, tuple(output.shape), own))

for m in model.modules():
    if m is not model:
        m.register_forward_hook(hook)
with torch.no_grad():
    model(torch.zeros(1, 3, 224, 224))
total = sum(p.numel() for p in model.parameters())
for name, shape, n in rows:
    print(f"{{name:20}} {{str(shape):24}} {{n:>12,}}")
print(f"Total params: {{total:,}}")
assert total == 11_689_512, total
"""


def _env(root: Path = ROOT) -> dict[str, str]:
    # Let both processes use compiled bytecode, as an installed package would; this
    # machine's environment may switch it off (PYTHONDONTWRITEBYTECODE).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@dataclass
class Timing:
    wall: float  # median seconds, start to exit
    cpu: float  # median user+sys seconds of the process: steadier on a machine shared with other work
    walls: list[float]


def time_process(argv: list[str], runs: int) -> Timing:
    """Whole-process medians, after one untimed warm-up (file cache, bytecode)."""
    return time_alternated(argv, [ROOT], runs)[0]


def time_alternated(argv: list[str], roots: list[Path], runs: int) -> list[Timing]:
    """The same command from each tree, one run of each in turn (after a warm-up of each)."""
    envs = [_env(root) for root in roots]
    for root, env in zip(roots, envs):
        subprocess.run(argv, cwd=root, env=env, check=True, capture_output=True)
    walls: list[list[float]] = [[] for _ in roots]
    cpus: list[list[float]] = [[] for _ in roots]
    for _ in range(runs):
        for i, (root, env) in enumerate(zip(roots, envs)):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(argv, cwd=root, env=env, check=True, capture_output=True)
            walls[i].append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[i].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return [Timing(statistics.median(w), statistics.median(c), w) for w, c in zip(walls, cpus)]


def chain_spec(n: int) -> str:
    """A valid chain of n layers: Linear and ReLU alternating, 64 features wide."""
    lines = ["specc: 1", "inputs:", "  features: [B, 64]", "layers:"]
    for i in range(n):
        lines.append("  - {type: Linear, out_features: 64}" if i % 2 == 0 else "  - {type: ReLU}")
    return "\n".join(lines) + "\n"


def time_in_process(text: str, runs: int) -> float:
    import specc

    best = []
    for _ in range(runs):
        t0 = time.perf_counter()
        spec = specc.loads(text, "chain.yaml")
        best.append(time.perf_counter() - t0)
        assert spec.ok, [d.message for d in spec.diagnostics[:3]]
    return statistics.median(best)


def profile(text: str) -> None:
    import cProfile
    import pstats

    import specc

    prof = cProfile.Profile()
    prof.enable()
    specc.loads(text, "chain.yaml")
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="timed runs per whole-process measurement")
    ap.add_argument("--sizes", default="100,1000,10000", help="chain lengths for the scaling table")
    ap.add_argument("--profile", action="store_true", help="cProfile check of the largest chain")
    ap.add_argument("--against", type=Path, help="another specc checkout: its check of the spec, side by side")
    args = ap.parse_args()
    py = sys.executable
    if args.against:
        against(args.against.resolve(), args.runs)

    print(f"== whole process, {SPEC} (median of {args.runs} runs after a warm-up; CPU = user+sys of the process)")
    specc_t = time_process([py, "-m", "specc", "check", SPEC], args.runs)
    torch_t = time_process([py, "-c", TORCH_ROUTE], args.runs)
    print(f"  {'':44} {'wall':>9} {'CPU':>9}")
    for label, tm in (("specc check", specc_t), ("import torch + build + hooked forward", torch_t)):
        print(f"  {label:<44} {tm.wall * 1000:6.0f} ms {tm.cpu * 1000:6.0f} ms   (wall runs: {_fmt(tm.walls)})")
    wall_ratio, cpu_ratio = torch_t.wall / specc_t.wall, torch_t.cpu / specc_t.cpu
    print(f"  {'ratio (torch route / specc check)':<44} {wall_ratio:7.1f}x  {cpu_ratio:7.1f}x   "
          f"goal >= 7x: {'met' if min(wall_ratio, cpu_ratio) >= 7 else 'NOT met'}")

    print("\n== where specc check's time goes")
    startup = time_process([py, "-c", "pass"], args.runs)
    deps = time_process([py, "-c", "import pydantic, yaml"], args.runs)
    imported = time_process([py, "-c", "import specc.cli, specc.pipeline"], args.runs)
    import specc

    specc.load(ROOT / SPEC)  # first use builds deferred validators; a process pays it once
    work = statistics.median(_time(lambda: specc.load(ROOT / SPEC).check()) for _ in range(args.runs))
    print(f"  {'python startup':<44} {startup.cpu * 1000:6.0f} ms CPU")
    print(f"  {'importing pydantic and yaml':<44} {(deps.cpu - startup.cpu) * 1000:6.0f} ms CPU")
    print(f"  {'importing specc itself (modules, models)':<44} {(imported.cpu - deps.cpu) * 1000:6.0f} ms CPU")
    print(f"  {'load + check resnet18 (in process, warm)':<44} {work * 1000:6.0f} ms")

    sizes = [int(s) for s in args.sizes.split(",") if s]
    print("\n== scaling: specc.loads on generated chains (in process, median)")
    print(f"  {'layers':>8} {'total':>10} {'per layer':>12}")
    time_in_process(chain_spec(10), 1)  # warm: imports and first-use caches are not per-layer cost
    per_layer = []
    for n in sizes:
        text = chain_spec(n)
        t = time_in_process(text, 5 if n <= 1000 else 3)
        per_layer.append(t / n)
        print(f"  {n:>8,} {t * 1000:>8.1f} ms {t / n * 1e6:>9.1f} µs")
    # The two largest chains are the steadiest measurements (the smallest is mostly noise).
    ref = -2 if len(sizes) > 1 else -1
    growth = per_layer[-1] / per_layer[ref]
    verdict = "linear" if growth < 1.5 else "NOT linear"
    print(f"  per-layer time at {sizes[-1]:,} vs {sizes[ref]:,} layers: {growth:.2f}x "
          f"({verdict}; 1.0x is perfectly linear)")
    if args.profile:
        profile(chain_spec(sizes[-1]))
    return 0


def against(other: Path, runs: int) -> None:
    print(f"== whole process, {SPEC}: this tree against {other} (runs alternated; median of {runs} each)")
    here, there = time_alternated([sys.executable, "-m", "specc", "check", SPEC], [ROOT, other], runs)
    print(f"  {'':44} {'wall':>9} {'CPU':>9}")
    for label, tm in (("this tree", here), (str(other), there)):
        print(f"  {label[-44:]:<44} {tm.wall * 1000:6.0f} ms {tm.cpu * 1000:6.0f} ms   (wall runs: {_fmt(tm.walls)})")
    print(f"  {'ratio (other / this): above 1 is faster here':<44} {there.wall / here.wall:7.2f}x  "
          f"{there.cpu / here.cpu:7.2f}x\n")


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _fmt(times: list[float]) -> str:
    return ", ".join(f"{t * 1000:.0f}" for t in times)


if __name__ == "__main__":
    raise SystemExit(main())
