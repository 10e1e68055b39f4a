"""Does formatting with ruff make `specc compile` slower?

Times `specc compile specs/resnet18.yaml -o <tmp>` as a whole process, three ways, in
interleaved rounds whose order rotates so drift hits all alike: formatted by ruff (what
runs when ruff is installed), formatted by specc's fallback formatter, and, with
``--against DIR``, another checkout of specc (e.g. the commit before a change: ``git
worktree add /tmp/before HEAD~1``).  Prints the median of each and the ratios to ruff's.
Also prints the in-process time of one ``compile_source`` with each formatter.

    .venv/bin/python bench/compile_speed.py [--runs 9] [--spec specs/resnet18.yaml] [--against DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import specc  # noqa: E402
from specc.targets.torch.emit import compile_source  # noqa: E402
from specc.targets.torch.emit import format as fmt  # noqa: E402

# The fallback in a whole process: the CLI's own entry point (its fast exit included), ruff out of reach.
FALLBACK = ("import specc.targets.torch.emit.format as f; f.ruff_binary = lambda: None; "
            "from specc.cli import entry; entry()")


def run(argv: list[str], checkout: Path) -> float:
    """Seconds of one process; run in ``checkout``, whose specc it imports (-m puts the cwd first)."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    subprocess.run(argv, cwd=checkout, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--spec", default="specs/resnet18.yaml")
    ap.add_argument("--against", type=Path, help="another specc checkout to time the same way (its own formatting)")
    args = ap.parse_args()
    if fmt.ruff_binary() is None:
        raise SystemExit("ruff is not installed: nothing to compare (pip install ruff)")
    out = Path(tempfile.mkdtemp()) / "model.py"
    compile_args = ["compile", str(ROOT / args.spec), "-o", str(out)]
    ways = {
        "ruff": ([sys.executable, "-m", "specc", *compile_args], ROOT),
        "fallback": ([sys.executable, "-c", FALLBACK, *compile_args], ROOT),
    }
    if args.against:
        ways["--against"] = ([sys.executable, "-m", "specc", *compile_args], args.against.resolve())
    times: dict[str, list[float]] = {k: [] for k in ways}
    names = list(ways)
    for argv, checkout in ways.values():  # warm the file cache and the bytecode
        run(argv, checkout)
    for i in range(args.runs):
        for name in names[i % len(names):] + names[: i % len(names)]:
            times[name].append(run(*ways[name]))
    base = statistics.median(times["ruff"])
    print(f"`specc compile {args.spec}` as a whole process, median of {args.runs}:")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:<10} {med * 1000:7.0f} ms   ({med / base:.2f}x ruff's)")

    spec = specc.load(ROOT / args.spec)
    per_call = {}
    for name, binary in (("ruff", fmt.ruff_binary()), ("fallback", None)):
        fmt.ruff_binary = lambda b=binary: b  # type: ignore[method-assign]
        compile_source(spec)
        start = time.perf_counter()
        for _ in range(args.runs):
            compile_source(spec)
        per_call[name] = (time.perf_counter() - start) / args.runs
    print("compile_source in process, mean per call: " +
          ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in per_call.items()))


if __name__ == "__main__":
    main()
