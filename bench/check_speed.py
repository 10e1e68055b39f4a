"""How fast is `specc check`, next to the usual way of learning a model's shapes?

Prints, in one run:

1. `specc check specs/resnet18.yaml` as a whole process, as installed (a copy of this tree
   built and installed, not editable, into a fresh environment) and from this checkout, against
   the usual alternative as a whole process: import torch, build the same ResNet-18 with torch.nn
   (tests/reference_models.py) and run a torchinfo-style dummy forward with hooks that
   record every layer's output shape and parameter count.  Medians of several runs, and
   the ratio (goals, issue 11: specc at least 14x faster, and at most 100 ms).
2. Where check's time goes, each part timed as a whole process (CPU medians): Python's start,
   importing Pydantic and PyYAML, the floor of any Pydantic program (one model built and
   validated, without the plugin lookup that specc's command line skips; the lookup's cost
   apart), with a plain statement when the time goal is below that floor, and inside
   specc's own process: its modules, the first check (the layer families the spec uses, lint
   and report modules, and the Pydantic schemas, all built on first use) and a second one.
3. The scaling of check on generated chains of 100, 1,000 and 10,000 layers: in-process
   time of ``specc.loads`` and the time per layer (goal: flat, i.e. linear growth).
4. With ``--against DIR`` (another checkout of specc, e.g. ``git worktree add /tmp/prev HEAD~1``):
   check of the same spec as a whole process from that tree and from this one, runs alternated
   in one loop so that both see the same machine, and the ratio.

With ``--instructions`` (valgrind installed), parts 2 and 4 also count the instructions each
process executes (callgrind): steady where other work shares the machine and blurs the times.

What it found (issue 11, item 6), in instructions counted by callgrind (steady on this shared
2-core machine, where times swing 5x with its load; on it, quiet, 1 M instructions ~ 0.16 ms):
a whole-process check of ResNet-18 executed 1,164 M (~190 ms).  Of those, 675 M (~110 ms) are
the floor of any program that validates with Pydantic here, before specc runs a line: Python's
start 90 M, importing Pydantic and PyYAML 395 M, Pydantic's first model 190 M (its plugin lookup
imports importlib.metadata, 70 M, and reads every installed package's entry points).  specc's
own 489 M were: defining the document's ~54 Pydantic models 151 M and building their schema on
first use 77 M; all 16 layer families imported whatever the spec (ResNet-18 uses 7, 93 M of
them); the lint and report modules 61 M; the check itself ~50 M; and the rest of specc's
modules, importlib.resources for the torch target's support texts among them.  Then families
came to load when a spec names one of their kinds (specc/layers/catalogue.py), the package root
to import the pipeline on first use (`specc --help` fell from 960 M to 241 M), and the support
texts to be read beside their package: ResNet-18 1,114 M, XOR 997 M.

The second round cut these, each step measured on `python -m specc check
specs/resnet18.yaml` from this checkout: a valid document is typed section by section, each
loss, optimizer and scheduler as the one member its ``type:`` names, so the schema of every
member is never built (a document with a problem still goes through the whole model, so its
diagnostics are unchanged; tests/test_document_members.py holds the two ways equal): 1,114 ->
1,076 M.  The command line sets PYDANTIC_DISABLE_PLUGINS (a user's own value kept), so the
entry points of the installed packages are not read: 1,056 M (19 M here, more where more is
installed).  The document's annotations are objects, not text Pydantic evaluates: 1,041 M.
LintSettings' default factory is no builtin, whose signature Pydantic reads through the
tokenizer (compiling its patterns): 1,029 M.  A run that names its verb first builds that verb's
parser alone, not the other fifteen: 1,017 M.  Two dataclasses on the path (errors' walker, the
command line's Verb) became plain slotted classes (defining a dataclass generates and execs each
of its methods, 2-4 M apiece): 1,012 M.  XOR 997 -> 892 M, the Transformer 1,029 -> 924 M.

What a user pays is measured on a copy installed as `pip install specc` leaves it (built from
this tree, not editable, run by its console script): 1,003 M, of which the floor is 647 M
(Python's start 36 M; this checkout's editable install adds 52 M to every start, its finder
importing pathlib, but specc imports most of that anyway: 9 M net).  specc's own share, split in
this checkout's interpreter (~400 M there): the command line's modules ~40 M (the diagnostics and
codes tables 22 M), the pipeline's modules ~150 M (the document's models 83 M), the seven layer
families ResNet-18 uses 71 M, and the first check ~140 M, of which the check itself is ~56 M
(a second one in the same process) and the rest is built on first use: Pydantic schemas, the
lint and report modules.  The goals (<= 100 ms, >= 14x) stay out of reach here: the floor alone
is ~105-120 ms on this machine.  Still in the floor: importlib.metadata (~75 M), which
Pydantic's plugin loader imports at its top even when plugins are disabled (pydantic 2.14.3; a
lazy import upstream would save it).  Next in specc's share: the 24 dataclasses still defined on
a check's path (codes, diagnostics, shapes, layers, graph, spec, lint, report: 2-4 M each,
~60-85 M together), defining only the loss, optimizer and scheduler a spec names (the ~37 it
does not name cost ~40 M to define), and per-kind Params models in the layer families.

The third round (session 27), measured the same way (``python -m specc check`` from this checkout,
callgrind), split by phase with callgrind's ``--dump-before`` on a marker call between the stages:
the verdict line built the whole summary (rows, MACs, report.summary and graph.memory imported,
a training step's memory estimated) to print three counts; it reads Spec.param_counts now: 1,173
-> 1,136 M.  Pydantic's plugin loader, whose module imports importlib.metadata, is stood in for by
the command line while every plugin is off (its get_plugins answers no plugins then; the stand-in
answers the same, and hands any other name to the real module): 1,086 M, the floor's ~50 M that
earlier rounds could not reach.  Lint rules' docstrings are parsed when their documentation is
asked for, not when the rule registers: 1,072 M.  The layer families' annotations are objects,
not text Pydantic evaluates: 1,061 M.  XOR 1,012 -> 924 M, the Transformer 1,066 -> 969 M.  Left:
the families' and the document's Pydantic models (~50 defined for ResNet-18's seven families,
~54 for the document) and their schemas on first use (~85 M for the sections, ~40 M for the
families'), the 49 lint rule modules' imports (~45 M), the support and template names that
reserve_target_names reads from 28 files and the templates (~10 M), the codes table's 225 frozen
dataclasses (~4 M); per check, once imported, ~80 M (the graph 21 M, expansion 11 M, YAML 10 M).

The fourth round (session 28), the same way: the names the PyTorch target's support code and
templates reserve are a written-out list (tests/test_sections.py holds it to what the modules and
templates define) instead of thirty files read and scanned per check: 1,071 -> 1,058 M.  Found and
left: the command line's specc.atomic imports secrets (hmac, OpenSSL's _hashlib, random), but
Pydantic's types module imports secrets anyway, so deferring it saves only tempfile (~2 M).

Run:  .venv/bin/python bench/check_speed.py [--runs 7] [--sizes 100,1000,10000] [--profile]
                                           [--against DIR] [--instructions]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import site
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = "specs/resnet18.yaml"
RATIO_GOAL = 14  # times faster than the torch route (issue 11)
TIME_GOAL_MS = 100
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


def _env(root: Path | None = ROOT, plugins: bool = True) -> dict[str, str]:
    """The environment of a measured process: specc from ``root`` (None: as installed), and
    ``plugins=False`` as specc's command line runs Pydantic (it skips the plugin lookup)."""
    # Let every process use compiled bytecode, as an installed package would; this
    # machine's environment may switch it off (PYTHONDONTWRITEBYTECODE).
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYDANTIC_DISABLE_PLUGINS")}
    if root is not None:
        env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    else:
        env.pop("PYTHONPATH", None)
    if not plugins:
        env["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
    return env


@dataclass
class Installed:
    """specc as `pip install specc` leaves it, in a fresh environment: the package built from
    this tree and installed (not editable) with its console script, the dependencies read from
    this environment's site-packages as a plain path (so its .pth files, the editable install's
    finder among them, do not run)."""

    python: str  # the fresh environment's interpreter
    script: str  # the `specc` console script pip wrote

    def argv(self, *args: str) -> list[str]:
        return [self.python, self.script, *args]


def install_copy(tmp: Path) -> Installed | str:
    """An installed copy of this tree under ``tmp``, or why there is none."""
    src, venv, site_dir = tmp / "src", tmp / "venv", tmp / "site"
    try:  # the tree's files, tracked or not, without what git ignores (builds, caches, venvs)
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                               capture_output=True, text=True)
    except OSError as exc:
        return f"git is not available: {exc}"
    if files.returncode != 0:
        return f"git ls-files failed: {files.stderr.strip()}"
    for name in filter(None, files.stdout.split("\0")):  # a copy, so the build leaves nothing in this tree
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    steps = [[sys.executable, "-m", "venv", "--without-pip", str(venv)],
             [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
              "--target", str(site_dir), str(src)]]
    for argv in steps:
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode != 0:
            return f"{' '.join(argv[:5])} failed: {(proc.stderr or proc.stdout).strip()[-300:]}"
    python = venv / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # specc first, then this environment's packages (pydantic, yaml) as plain paths
    Path(purelib, "specc_bench.pth").write_text("\n".join([str(site_dir), *site.getsitepackages()]) + "\n")
    return Installed(str(python), str(site_dir / "bin" / "specc"))


@dataclass
class Timing:
    wall: float  # median seconds, start to exit
    cpu: float  # median user+sys seconds of the process: steadier on a machine shared with other work
    walls: list[float]


def time_process(argv: list[str], runs: int, env: dict[str, str] | None = None) -> Timing:
    """Whole-process medians, after one untimed warm-up (file cache, bytecode)."""
    return time_alternated(argv, [ROOT], runs, env)[0]


def time_alternated(argv: list[str], roots: list[Path], runs: int, env: dict[str, str] | None = None) -> list[Timing]:
    """The same command from each tree, one run of each in turn (after a warm-up of each)."""
    envs = [env or _env(root) for root in roots]
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


DEPS = "from pydantic import BaseModel\nimport yaml\n"
# Pydantic's first model looks for plugins (importing importlib.metadata and reading every installed
# package's entry points): a fixed cost of any program that validates with Pydantic.
FIRST_MODEL = "class M(BaseModel):\n    x: int\nM(x=1)\n"

# specc's process split at its stages, in CPU seconds, after what every Pydantic program pays.
STAGES = DEPS + FIRST_MODEL + f"""
import json, sys, time
sys.path.insert(0, {str(ROOT)!r})
c0 = time.process_time()
import specc.cli.check, specc.pipeline
c1 = time.process_time()
spec = specc.pipeline.load({SPEC!r})
assert spec.ok
spec.summary()
c2 = time.process_time()
specc.pipeline.load({SPEC!r}).summary()
c3 = time.process_time()
print(json.dumps([c1 - c0, c2 - c1, c3 - c2]))
"""


def time_stages(runs: int) -> list[float]:
    """Medians of specc's module imports, its first check and a second one (CPU seconds)."""
    samples = []
    for i in range(runs + 1):
        proc = subprocess.run([sys.executable, "-c", STAGES], cwd=ROOT, env=_env(plugins=False), check=True,
                              capture_output=True, text=True)
        if i:  # the first run warms the file cache and bytecode
            samples.append(json.loads(proc.stdout.splitlines()[-1]))
    return [statistics.median(s[k] for s in samples) for k in range(3)]


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
    ap.add_argument("--instructions", action="store_true",
                    help="also count instructions with valgrind (slow, but steady on a busy machine)")
    args = ap.parse_args()
    if args.against:
        against(args.against.resolve(), args.runs, args.instructions)
    with tempfile.TemporaryDirectory(prefix="specc-check-speed-") as tmp:
        installed = install_copy(Path(tmp))
        whole_process(installed, args.runs, args.instructions)

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


def whole_process(installed: Installed | str, runs: int, instructions: bool) -> None:
    """Parts 1 and 2: check against the torch route, and where check's time goes."""
    py = sys.executable
    here = [py, "-m", "specc", "check", SPEC]
    print(f"== whole process, {SPEC} (median of {runs} runs after a warm-up; CPU = user+sys of the process)")
    if isinstance(installed, str):
        print(f"  no installed copy ({installed}): this checkout's `python -m specc` stands in for it")
        user_argv, user_env, user_py = here, _env(), py
    else:
        user_argv, user_env, user_py = installed.argv("check", SPEC), _env(None), installed.python
    specc_t = time_process(user_argv, runs, user_env)
    here_t = time_process(here, runs)
    torch_t = time_process([py, "-c", TORCH_ROUTE], runs)
    print(f"  {'':44} {'wall':>9} {'CPU':>9}")
    for label, tm in (("specc check (installed: pip install specc)", specc_t),
                      ("  this checkout (python -m specc, editable)", here_t),
                      ("import torch + build + hooked forward", torch_t)):
        print(f"  {label:<44} {tm.wall * 1000:6.0f} ms {tm.cpu * 1000:6.0f} ms   (wall runs: {_fmt(tm.walls)})")
    wall_ratio, cpu_ratio = torch_t.wall / specc_t.wall, torch_t.cpu / specc_t.cpu
    print(f"  {'ratio (torch route / specc check)':<44} {wall_ratio:7.1f}x  {cpu_ratio:7.1f}x   "
          f"goal >= {RATIO_GOAL}x: {_verdict(min(wall_ratio, cpu_ratio) >= RATIO_GOAL)}")
    print(f"  {'specc check, whole process':<44} {specc_t.wall * 1000:6.0f} ms {specc_t.cpu * 1000:6.0f} ms   "
          f"goal <= {TIME_GOAL_MS} ms: {_verdict(max(specc_t.wall, specc_t.cpu) * 1000 <= TIME_GOAL_MS)}")

    print(f"\n== where specc check's time goes (CPU, median of {runs} runs; "
          f"{'the installed copy' if user_py != py else 'this checkout'}'s interpreter)")
    plain = _env(None) if user_py != py else _env()
    startup = time_process([user_py, "-c", "pass"], runs, plain)
    deps = time_process([user_py, "-c", DEPS], runs, plain)
    floor = time_process([user_py, "-c", DEPS + FIRST_MODEL], runs, _env(None if user_py != py else ROOT, False))
    lookup = time_process([user_py, "-c", DEPS + FIRST_MODEL], runs, plain)
    stages = time_stages(runs)
    rows = [("python start", startup.cpu),
            ("importing pydantic and yaml", deps.cpu - startup.cpu),
            ("pydantic's first model (no plugin lookup)", floor.cpu - deps.cpu),
            ("  = the floor of any pydantic program", floor.cpu),
            ("specc's modules (cli, pipeline)", stages[0]),
            ("first check of resnet18 (families, lint,", stages[1]),
            ("  report, schemas built on first use)", None),
            ("a second check (in process, warm)", stages[2])]
    for label, t in rows:
        print(f"  {label:<44}" + (f" {t * 1000:6.0f} ms" if t is not None else ""))
    print(f"  {'specc check, whole process':<44} {specc_t.cpu * 1000:6.0f} ms   "
          f"(floor + specc's own {(specc_t.cpu - floor.cpu) * 1000:.0f} ms)")
    print(f"  {'not paid: the plugin lookup (skipped by the':<44} {(lookup.cpu - floor.cpu) * 1000:6.0f} ms")
    print(f"  {'  command line: PYDANTIC_DISABLE_PLUGINS)':<44}")
    if floor.cpu * 1000 > TIME_GOAL_MS:
        print(f"  the goal of {TIME_GOAL_MS} ms is below this machine's floor of any pydantic program "
              f"({floor.cpu * 1000:.0f} ms): no check that validates with pydantic meets it here")
    if instructions and shutil.which("valgrind") is None:
        print("  instructions: valgrind is not installed; skipped")
    elif instructions:
        counts = [count_instructions(argv, ROOT, env) for argv, env in
                  (([user_py, "-c", "pass"], plain), ([user_py, "-c", DEPS], plain),
                   ([user_py, "-c", DEPS + FIRST_MODEL], _env(None if user_py != py else ROOT, False)),
                   ([user_py, "-c", DEPS + FIRST_MODEL], plain), (user_argv, user_env), (here, _env()))]
        print("  instructions (callgrind), the same split however busy the machine is:")
        for label, n in (("python start", counts[0]), ("importing pydantic and yaml", counts[1] - counts[0]),
                         ("pydantic's first model (no plugin lookup)", counts[2] - counts[1]),
                         ("  = the floor of any pydantic program", counts[2]),
                         ("specc's own (modules, first check)", counts[4] - counts[2]),
                         ("specc check, whole process", counts[4]),
                         ("not paid: the plugin lookup", counts[3] - counts[2]),
                         ("this checkout (python -m specc, editable)", counts[5])):
            print(f"  {label:<44} {n / 1e6:6.0f} M")


def against(other: Path, runs: int, instructions: bool) -> None:
    print(f"== whole process, {SPEC}: this tree against {other} (runs alternated; median of {runs} each)")
    argv = [sys.executable, "-m", "specc", "check", SPEC]
    here, there = time_alternated(argv, [ROOT, other], runs)
    print(f"  {'':44} {'wall':>9} {'CPU':>9}")
    for label, tm in (("this tree", here), (str(other), there)):
        print(f"  {label[-44:]:<44} {tm.wall * 1000:6.0f} ms {tm.cpu * 1000:6.0f} ms   (wall runs: {_fmt(tm.walls)})")
    print(f"  {'ratio (other / this): above 1 is faster here':<44} {there.wall / here.wall:7.2f}x  "
          f"{there.cpu / here.cpu:7.2f}x")
    if instructions:
        if shutil.which("valgrind") is None:
            print("  instructions: valgrind is not installed; skipped")
        else:
            counts = [count_instructions(argv, root) for root in (ROOT, other)]
            print(f"  {'instructions (callgrind): this tree':<44} {counts[0] / 1e6:8.0f} M")
            print(f"  {'instructions (callgrind): ' + other.name:<44} {counts[1] / 1e6:8.0f} M   "
                  f"ratio {counts[1] / counts[0]:.2f}x")
    print()


def count_instructions(argv: list[str], root: Path, env: dict[str, str] | None = None) -> int:
    """Instructions the command executes from ``root`` (valgrind's callgrind, after a warm-up run):
    the same count however busy the machine is."""
    env = env or _env(root)
    subprocess.run(argv, cwd=root, env=env, check=True, capture_output=True)
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv], cwd=root,
                          env=env, check=True, capture_output=True, text=True)
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count:\n{proc.stderr[-2000:]}")
    return int(found[1])


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def _fmt(times: list[float]) -> str:
    return ", ".join(f"{t * 1000:.0f}" for t in times)


if __name__ == "__main__":
    raise SystemExit(main())
