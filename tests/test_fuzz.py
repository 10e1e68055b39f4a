"""Fuzzing `specc.loads`: mutants of the example and zoo specs must get diagnostics, never an
exception, never an internal error, and an answer within a time bound.

Each mutant is built from a fixed seed, so a failure names the one number that rebuilds it:

    SPECC_FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz.py -q    # the long local run
    SPECC_FUZZ_ONLY=1234 python -m pytest tests/test_fuzz.py -q -s      # one mutant, printed
    SPECC_FUZZ_SEED=7 SPECC_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz.py -q   # another seed

CI runs a few hundred (SPECC_FUZZ_EXAMPLES, default 300). Mutants run in this process for
speed; each is timed, and one that runs past SPECC_FUZZ_HANG seconds (default 60, far past
any bound, so a slow CI machine cannot make the test flaky) is interrupted and reported as a
hang.  The local run also reports every mutant over SPECC_FUZZ_SLOW seconds (default 2).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import specc

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted([*ROOT.glob("specs/*.yaml"), *ROOT.glob("specs/zoo/*.yaml"), *ROOT.glob("tests/corpus/good/*.yaml"),
                *ROOT.glob("tests/corpus/architectures/*.yaml")])
EXAMPLES = int(os.environ.get("SPECC_FUZZ_EXAMPLES", "300"))
HANG_S = float(os.environ.get("SPECC_FUZZ_HANG", "60"))
SLOW_S = float(os.environ.get("SPECC_FUZZ_SLOW", "2"))
BASE_SEED = int(os.environ.get("SPECC_FUZZ_SEED", "20251126"))  # another seed, another set of mutants

# (4,300+ digits cannot pass through yaml.safe_dump: huge_number writes them into the text)
HUGE = [0, -1, -2**31, 2**31, 2**63 - 1, 2**63, 2**64, 10**19, 10**23, 10**31, 10**40, 10**400]
ODD = [0.5, 1.5, -0.0, 1e-320, 1e308, math.inf, -math.inf, math.nan, "", "x", "12", "${", "}", None, True, False,
       [], {}, [1, 2], {"a": 1}, "a" * 300]
EXPRESSIONS = [
    "${9 ** 64 ** 64}", "${2 ** 62 * 2 ** 62}", "${int(1e300)}", "${round(5, -10 ** 18)}", "${1e308 * 10}",
    "${0.0 * 1e309}", "${1 // 0}", "${1 % 0}", "${-(-(-(1)))}", "${" + "(" * 150 + "1" + ")" * 150 + "}",
    "${" + "-" * 190 + "1}", "${__import__('os').getpid()}", "${().__class__}", "${'a' * 10 ** 9}",
    "${[1] * 10 ** 9}", "${lambda: 1}", "${x if y else z}", "${index}", "${ceil(1e400)}", "${abs(-2 ** 63)}",
    "${min()}", "${max(1, 'a')}", "${1 < 'a'}", "${not}", "${{}}", "${a}${b}", "pre ${1 + 1} post",
    "${1e-400}", "${10 ** -64}", "${2 ** 0.5}", "${(-8) ** 0.5}", "${true + 1}", "${{{1}}}", "${'\\n'}",
    "{{ 7 * 7 }}", "{0.__class__}", "%s%s%n", "${'{}'.format(1)}",
]
WEIRD_TEXT = ["\n", "\t", "\r", "\x00", "\x1b[31m", "\u202e", "\u200b", "\ufeff", "\ud7ff", "ﬁ", "Ａ", "é", "𝟘",
              "'", '"', "\\", "{{", "}}", "{%", "%}", "${", ":", ": ", "- ", "#", "&a", "*a",
              "!!python/object:os.system", "<<", "---", "...", "|", ">", "@", "`", "\u0085", "\u2028", "\x7f", "\x85"]


def mutant(i: int) -> tuple[str, str]:
    """The i-th mutant: (what was done, the text)."""
    rng = random.Random(BASE_SEED + i)
    seed = rng.choice(SEEDS)
    text = seed.read_text(encoding="utf-8")
    done = [seed.name]
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.choice(OPERATIONS)
        text = op(rng, text)
        done.append(op.__name__)
    return " ".join(done), text


# -- structural mutations, on the data ------------------------------------------------------------

def _data(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError):  # an earlier mutation broke it: mutate the text
        return None


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10**6)


def _places(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every value, depth-first."""
    if isinstance(data, dict):
        for k in list(data):
            yield data, k
            yield from _places(data[k], (*path, k))
    elif isinstance(data, list):
        for j in range(len(data)):
            yield data, j
            yield from _places(data[j], (*path, j))


def _layer_lists(data: Any) -> list[list[Any]]:
    out = []
    if isinstance(data, dict):
        if isinstance(data.get("layers"), list):
            out.append(data["layers"])
        for body in (data.get("blocks") or {}).values() if isinstance(data.get("blocks"), dict) else []:
            if isinstance(body, dict) and isinstance(body.get("layers"), list):
                out.append(body["layers"])
    return [x for x in out if x]


def _structural(change: Callable[[random.Random, Any], None]) -> Callable[[random.Random, str], str]:
    def op(rng: random.Random, text: str) -> str:
        data = _data(text)
        if not isinstance(data, dict):
            return _damage_yaml(rng, text)
        change(rng, data)
        try:
            return _dump(data)
        except (ValueError, RecursionError):  # an int of over 4,300 digits (from hex) cannot be written
            return _damage_yaml(rng, text)

    op.__name__ = change.__name__
    return op


@_structural
def delete_layer(rng: random.Random, data: Any) -> None:
    lists = _layer_lists(data)
    if lists:
        layers = rng.choice(lists)
        del layers[rng.randrange(len(layers))]


@_structural
def duplicate_layer(rng: random.Random, data: Any) -> None:
    lists = _layer_lists(data)
    if lists:
        layers = rng.choice(lists)
        j = rng.randrange(len(layers))
        layers.insert(j, layers[j])


@_structural
def swap_layers(rng: random.Random, data: Any) -> None:
    lists = _layer_lists(data)
    if lists:
        layers = rng.choice(lists)
        a, b = rng.randrange(len(layers)), rng.randrange(len(layers))
        layers[a], layers[b] = layers[b], layers[a]


@_structural
def set_number(rng: random.Random, data: Any) -> None:
    places = [(c, k) for c, k in _places(data) if isinstance(c[k], (int, float)) and not isinstance(c[k], bool)]
    places = places or list(_places(data))
    c, k = rng.choice(places)
    c[k] = rng.choice(HUGE + ODD)


@_structural
def set_any_value(rng: random.Random, data: Any) -> None:
    c, k = rng.choice(list(_places(data)))
    c[k] = rng.choice(HUGE + ODD + EXPRESSIONS + [rng.choice(WEIRD_TEXT) * rng.randint(1, 3)])


@_structural
def rename_key(rng: random.Random, data: Any) -> None:
    dicts = [c for c, _ in _places(data) if isinstance(c, dict)] or [data]
    d = rng.choice(dicts)
    if not d:
        return
    old = rng.choice(list(d))
    others = [k for c in dicts for k in c]
    new = rng.choice([rng.choice(others), f"{old}{rng.choice(WEIRD_TEXT)}", str(old)[:-1], str(old).upper(),
                      "repeat", "from", "name", "type", "when", "ignore", "<<", 12, None, True])
    items = [(new if k == old else k, v) for k, v in d.items()]
    d.clear()
    d.update(items)


@_structural
def weird_characters(rng: random.Random, data: Any) -> None:
    places = [(c, k) for c, k in _places(data) if isinstance(c[k], str)] or list(_places(data))
    c, k = rng.choice(places)
    value = str(c[k])
    at = rng.randint(0, len(value))
    junk = "".join(rng.choice([*WEIRD_TEXT, chr(rng.randint(0, 0x10FFFF))]) for _ in range(rng.randint(1, 4)))
    c[k] = (value[:at] + junk + value[at:]).encode("utf-8", "replace").decode("utf-8")


@_structural
def odd_expression(rng: random.Random, data: Any) -> None:
    places = list(_places(data))
    c, k = rng.choice(places)
    c[k] = rng.choice(EXPRESSIONS)
    if rng.random() < 0.5:
        vars_ = data.setdefault("vars", {}) if isinstance(data.get("vars", {}), dict) else {}
        vars_[rng.choice(["a", "hidden", "n", "index", "x\n", "__class__"])] = rng.choice(HUGE + ODD + EXPRESSIONS)


@_structural
def big_repeat(rng: random.Random, data: Any) -> None:
    lists = _layer_lists(data)
    if lists:
        layers = rng.choice(lists)
        item = layers[rng.randrange(len(layers))]
        if isinstance(item, dict):
            item["repeat"] = rng.choice([2, 100, 10_000, 10**6, 10**12, 2**63, -1, 0, 1.5, "${10 ** 6}", "${n}"])


# -- text mutations ---------------------------------------------------------------------------------

def truncate(rng: random.Random, text: str) -> str:
    data = text.encode("utf-8")
    return data[:rng.randrange(len(data) + 1)].decode("utf-8", "ignore")


def insert_characters(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text) + 1)
    junk = "".join(rng.choice([*WEIRD_TEXT, chr(rng.randint(0, 0xFFFF))]) for _ in range(rng.randint(1, 8)))
    return (text[:at] + junk + text[at:]).encode("utf-8", "replace").decode("utf-8")


def _damage_yaml(rng: random.Random, text: str) -> str:
    lines = text.splitlines(keepends=True) or [""]
    j = rng.randrange(len(lines))
    how = rng.randrange(6)
    if how == 0:
        del lines[j]
    elif how == 1:
        lines.insert(j, lines[j])
    elif how == 2:
        lines[j] = " " * rng.randint(1, 7) + lines[j]
    elif how == 3:
        lines[j] = lines[j].lstrip(" ")
    elif how == 4:
        lines[j] = lines[j].replace(":", rng.choice(["", "::", ": :", ":["]), 1)
    else:
        lines[j] = lines[j].replace("}", "", 1) if "}" in lines[j] else lines[j] + rng.choice(["{", "[", "'", '"'])
    return "".join(lines)


def damage_yaml(rng: random.Random, text: str) -> str:
    return _damage_yaml(rng, text)


def nest_deeply(rng: random.Random, text: str) -> str:
    depth = rng.choice([40, 63, 64, 65, 100, 1_000, 30_000])
    lines = text.splitlines(keepends=True) or [""]
    j = rng.randrange(len(lines))
    kind = rng.randrange(3)
    if kind == 0:
        deep = "[" * depth + "1" + "]" * depth * rng.choice([0, 1])
    elif kind == 1:
        deep = "{a: " * depth + "1" + "}" * depth
    else:
        deep = "\n" + "".join(" " * (k + 1) + f"k{k}:\n" for k in range(min(depth, 300)))
    return "".join(lines[:j]) + f"nested: {deep}\n" + "".join(lines[j:])


def huge_number(rng: random.Random, text: str) -> str:
    numbers = list(re.finditer(r"(?<![\w.])\d+(?![\w.])", text))
    if not numbers:
        return text
    m = rng.choice(numbers)
    digits = rng.choice([19, 20, 21, 25, 31, 60, 4_300, 4_301, 10_000])
    new = rng.choice(["9" * digits, "1" + "0" * digits, f"!!int {'7' * digits}", f"0x{'f' * digits}",
                      f"1{'0' * digits}.5", f"1e{digits}", "-" + "9" * digits])
    return text[:m.start()] + new + text[m.end():]


OPERATIONS: list[Callable[[random.Random, str], str]] = [
    delete_layer, duplicate_layer, swap_layers, set_number, set_number, set_any_value, rename_key,
    weird_characters, odd_expression, big_repeat, truncate, insert_characters, damage_yaml, nest_deeply,
    huge_number,
]


# -- the run --------------------------------------------------------------------------------------

class Hang(Exception):
    pass


@contextlib.contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    """Interrupt the mutant after ``seconds`` (a SIGALRM timer; the main thread only)."""
    def on_alarm(signum: int, frame: Any) -> None:
        raise Hang

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_mutant(i: int) -> tuple[str | None, float, str]:
    """(the failure, or None; seconds; what the mutant is)."""
    what, text = mutant(i)
    start = time.perf_counter()
    try:
        with hang_guard(HANG_S):
            spec = specc.loads(text, "mutant.yaml")
    except Hang:
        return f"still running after {HANG_S:.0f} s", time.perf_counter() - start, what
    except Exception as exc:  # noqa: BLE001 - the defect this test exists to find
        return f"raised {type(exc).__name__}: {str(exc)[:300]}", time.perf_counter() - start, what
    seconds = time.perf_counter() - start
    bugs = [d for d in spec.diagnostics if d.code == "E999"]
    if bugs:
        return f"internal error: {bugs[0].message[:300]}", seconds, what
    unplaced = [d for d in spec.errors if d.loc is None]
    if unplaced:
        return f"error without a location: {unplaced[0].code} {unplaced[0].message[:200]}", seconds, what
    return None, seconds, what


# the mutants in four tests, each every fourth number: under pytest-xdist the two workers share them
# instead of one worker running all of them at the end of the suite while the other waits
CHUNKS = 4


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_mutants_get_diagnostics_never_exceptions(chunk: int) -> None:
    only = os.environ.get("SPECC_FUZZ_ONLY")
    if only and int(only) % CHUNKS != chunk:
        pytest.skip(f"SPECC_FUZZ_ONLY={only} is in chunk {int(only) % CHUNKS}")
    indices = [int(only)] if only else range(chunk, EXAMPLES, CHUNKS)
    failures: list[str] = []
    slow: list[str] = []
    seconds_total, slowest = 0.0, (0.0, -1)
    for i in indices:
        failure, seconds, what = check_mutant(i)
        seconds_total += seconds
        slowest = max(slowest, (seconds, i))
        if only:
            print(mutant(i)[1][:3000], f"\n-- {what}: {failure or 'ok'} in {seconds:.2f} s")
        if failure:
            failures.append(f"mutant {i} ({what}): {failure}")
        elif seconds > SLOW_S:
            slow.append(f"mutant {i} ({what}): {seconds:.2f} s")
    print(f"\n{len(indices)} mutants in {seconds_total:.1f} s: {len(failures)} failures, {len(slow)} over {SLOW_S} s; "
          f"the slowest, mutant {slowest[1]}, took {slowest[0]:.2f} s")
    assert not failures, "\n".join(failures[:20]) + "\nrebuild one with SPECC_FUZZ_ONLY=<number>"
    if EXAMPLES > 1_000:  # the long local run holds the time bound too; CI machines are too noisy for it
        assert not slow, "\n".join(slow[:20])


def test_the_mutations_do_what_they_say() -> None:
    """A fuzzer that mutated nothing would pass forever: every operation changes its seed,
    and the mutants cover every stage's errors."""
    rng = random.Random(0)
    base = (ROOT / "specs" / "course_cnn.yaml").read_text(encoding="utf-8")
    for op in OPERATIONS:
        assert any(op(random.Random(k), base) != base for k in range(5)), op.__name__
    codes: set[str] = set()
    for i in range(150):
        spec = specc.loads(mutant(i)[1], "mutant.yaml")
        codes |= {d.code[0] for d in spec.errors}
        if {"Y", "V", "S"} <= codes:
            break
    assert {"Y", "V", "S"} <= codes, codes
    assert rng is not None


@pytest.mark.parametrize(("place", "op"), list(enumerate(OPERATIONS)), ids=[op.__name__ for op in OPERATIONS])
def test_each_operation_on_every_seed_spec(place: int, op: Callable[[random.Random, str], str]) -> None:
    """Every seed spec is fuzzed in CI: in a short run each operation takes every third seed,
    starting where its place in OPERATIONS says, so every seed meets a third of the operations
    and every operation a third of the seeds; a long run
    (SPECC_FUZZ_EXAMPLES over 1,000) applies each operation to every seed."""
    share = 1 if EXAMPLES > 1_000 else 3
    start = place % share
    for k, seed in enumerate(SEEDS):
        if k % share != start:
            continue
        text = op(random.Random(k), seed.read_text(encoding="utf-8"))
        with hang_guard(HANG_S):
            spec = specc.loads(text, seed.name)
        assert not [d for d in spec.diagnostics if d.code == "E999"], seed.name


HOSTILE_VALUES = ["0", "-1", "1.5", ".nan", "-.inf", "9223372036854775807", "18446744073709551615", "2147483648",
                  "1e-320", "'{{ 7*7 }}'", "'%s{0}'", '"fc\\n"', "'ﬁlter'", "null", "[]", "{a: 1}", "[.nan, 1]",
                  "[9223372036854775807, 2]", "'${1e308 * 10}'"]


def _layer_configs() -> dict[str, tuple[dict[str, Any], list[str]]]:
    """One working configuration per layer kind found in the seed specs: its parameters as
    written (defaults left out) and its inputs as spec shapes, so that setting one parameter
    to a hostile value reaches the layer's shape rule and counts, not just a missing field."""
    from specc.shapes.dims import Dim

    def shape(t: Any) -> str:
        dims = [d if isinstance(d, int) else str(d) if isinstance(d, Dim) and str(d).isidentifier() else 8
                for d in t.shape]
        return f"{{shape: [{', '.join(map(str, dims))}], dtype: {t.dtype}}}"

    found: dict[str, tuple[dict[str, Any], list[str]]] = {}

    def visit(graph: Any) -> None:
        for node in graph.nodes:
            if node.sub is not None:
                visit(node.sub)
            elif node.kind is not None and node.params is not None and node.type not in found:
                ins = [graph.value(s) for s in node.inputs]
                if ins and all(t is not None for t in ins):
                    found[node.type] = (node.params.model_dump(exclude_unset=True), [shape(t) for t in ins])

    for seed in SEEDS:
        spec = specc.loads(seed.read_text(encoding="utf-8"), seed.name)
        if spec.graph is not None:
            visit(spec.graph)
    return found


def test_hostile_values_in_every_layer_parameter() -> None:
    """Every parameter of every layer kind, set to values that once crashed the diagnostics
    builder or the dims algebra or hung a shape rule (nan, inf, huge ints, floats where ints
    belong, unicode, control characters, Jinja and format syntax): diagnostics, never an
    exception, within the time bound. Kinds used by a seed spec start from that working
    configuration; the others from their parameter alone. CI takes a sample of the values;
    SPECC_FUZZ_EXAMPLES over 1,000 takes them all."""
    from specc.layers import REGISTRY

    rng = random.Random(BASE_SEED)
    every = EXAMPLES > 1_000
    configs = _layer_configs()
    failures = []
    for name, kind in sorted(REGISTRY.items()):
        base, shapes = configs.get(name, ({}, [rng.choice(["[B, 3, 16, 16]", "[B, 8, 16]", "[B, 16]"])]))
        inputs = "".join(f"  x{j}: {s}\n" for j, s in enumerate(shapes))
        for field in kind.Params.model_fields:
            for value in HOSTILE_VALUES if every else rng.sample(HOSTILE_VALUES, 3):
                params = {k: v for k, v in base.items() if k != field}
                written = ", ".join(f"{k}: {_flow(v)}" for k, v in params.items())
                text = (f"specc: 1\ninputs:\n{inputs}layers:\n  - {{type: {name}, from: "
                        f"[{', '.join(f'x{j}' for j in range(len(shapes)))}], {written + ', ' if written else ''}"
                        f"{field}: {value}}}\n")
                start = time.perf_counter()
                try:
                    with hang_guard(HANG_S):
                        spec = specc.loads(text, "t.yaml")
                except Exception as exc:  # noqa: BLE001 - the defect this test looks for
                    failures.append(f"{text}  -> {type(exc).__name__}: {exc}")
                    continue
                if time.perf_counter() - start > (SLOW_S if every else HANG_S):
                    failures.append(f"{text}  -> {time.perf_counter() - start:.1f} s")
                if any(d.code == "E999" or (d.severity == "error" and d.loc is None) for d in spec.diagnostics):
                    failures.append(f"{text}  -> {spec.diagnostics}")
    assert len(configs) >= 30, sorted(configs)
    assert not failures, "\n".join(failures[:20])


def _flow(v: Any) -> str:
    """A parameter value as YAML flow text."""
    return yaml.safe_dump(v, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()
