"""What the sizes of a model's symbols must satisfy when it runs: every size of every tensor at
least 1, and what layers need beyond it (reflection padding narrower than the map, a position
table of max_len rows).  check proves the model for the sizes that satisfy them; predict and
run test given inputs against them before running (so too small an image is the caller's
mistake, named, not a runtime's error about an Add), and exported models carry them in their
metadata, exactly (:func:`~.dims.to_json`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .dims import DimLike, evaluate, from_json, to_json


@dataclass(frozen=True)
class SizeRule:
    """``size >= at_least``; ``text`` says it for people, ``why`` names what needs it."""

    size: DimLike
    at_least: int
    text: str
    why: str

    def holds(self, env: Mapping[str, int]) -> bool:
        try:
            return evaluate(self.size, env) >= self.at_least
        except (KeyError, ZeroDivisionError):
            return True  # a symbol the inputs do not fix: nothing to test here

    def to_json(self) -> dict[str, object]:
        return {"size": to_json(self.size), "at_least": self.at_least, "text": self.text, "why": self.why}

    @classmethod
    def from_json(cls, obj: object) -> SizeRule:
        if not isinstance(obj, dict) or not isinstance(obj.get("at_least"), int):
            raise ValueError("a size rule is {size, at_least, text, why}")
        return cls(from_json(obj.get("size")), obj["at_least"], str(obj.get("text", "")), str(obj.get("why", "")))


def broken(rules: list[SizeRule], env: Mapping[str, int]) -> list[str]:
    """What the symbol sizes ``env`` (read from given inputs) break, one sentence each."""
    at = ", ".join(f"{k} = {v}" for k, v in env.items())
    return [f"at {at}, {r.why} needs {r.text}" for r in rules if not r.holds(env)]


def nearest_fit(rules: list[SizeRule], env: Mapping[str, int], reach: int = 4096) -> dict[str, int]:
    """For each symbol a broken rule depends on, the value nearest its given one at which every
    rule holds (searched within ``reach``; empty where none is).  Each symbol is first fitted to
    the rules of its own (an image too small in both H and W breaks rules of H alone and of W
    alone); rules that tie several symbols are then met by moving those symbols together."""
    def symbols_of(r: SizeRule) -> set[str]:
        return set(r.size.symbols()) if not isinstance(r.size, int) else set()

    names = sorted({s for r in rules if not r.holds(env) for s in symbols_of(r)} & set(env))
    fitted = dict(env)
    for s in names:
        own = [r for r in rules if symbols_of(r) & set(names) == {s}]
        fitted = _moved(own, fitted, [s], reach) or fitted
    if any(not r.holds(fitted) for r in rules):
        fitted = _moved(rules, fitted, names, reach) or {}
    return {s: fitted[s] for s in names if s in fitted and fitted[s] != env[s]}


DATA_SIZE = 16  # a symbol's size in the data specc makes (synthetic, images resized), where the spec gives none


def made_sizes(rules: list[SizeRule], given: Mapping[str, int], free: set[str]) -> dict[str, int]:
    """The size of each symbol in the data specc makes: ``given`` (the export sizes), else
    :data:`DATA_SIZE` for each ``free`` symbol, moved where the model cannot run at it to the
    nearest size where it can (a ``given`` size is the spec's: check holds it to the rules)."""
    env = {**given, **dict.fromkeys(sorted(free - set(given)), DATA_SIZE)}
    env.update({s: v for s, v in nearest_fit(rules, env).items() if s in free and s not in given})
    return env


def _moved(rules: list[SizeRule], env: dict[str, int], names: list[str], reach: int) -> dict[str, int] | None:
    """``env`` with the symbols ``names`` moved by the smallest common step (up first) at which
    ``rules`` hold; None when no step within ``reach`` does."""
    for step in range(1, reach):
        for sign in (1, -1):
            trial = {**env, **{s: env[s] + sign * step for s in names}}
            if all(trial[s] >= 1 for s in names) and all(r.holds(trial) for r in rules):
                return trial
    return None


def refusal(rules: list[SizeRule], env: Mapping[str, int]) -> tuple[str, str] | None:
    """Why inputs of these symbol sizes cannot run, and the sizes nearest them that can; None
    when they can."""
    problems = broken(rules, env)
    if not problems:
        return None
    fits = nearest_fit(rules, env)
    extra = len(problems) - 1
    more = f" (and {extra} later layer{'s' if extra > 1 else ''} likewise)" if extra else ""
    fix = ", ".join(f"{s} = {v}" for s, v in fits.items())
    return problems[0] + more, (f"the nearest size that works is {fix}" if fix else
                                "feed inputs of the sizes the spec's layers need")


def size_rules(graph: Any) -> list[SizeRule]:
    """What the symbol sizes must satisfy for the model of a shaped graph to run: each symbolic
    size of a tensor at least 1 (once per formula, named after the first layer that makes it),
    and every size a layer needs (reflection padding, an index along a symbolic dim, a position
    table)."""
    rules: dict[tuple[str, int], SizeRule] = {}
    for name, t in graph.inputs.items():
        for d in t.shape:
            if not isinstance(d, int):
                rules.setdefault((str(d), 1), SizeRule(d, 1, f"{d} >= 1", f"input '{name}'"))
    for _, n in graph.walk():
        if n.out is None or n.kind is None:
            continue
        for out in (n.result.outs if n.result is not None and n.result.outs else (n.out,)):
            for d in out.shape:
                if not isinstance(d, int):
                    rules.setdefault((str(d), 1), SizeRule(d, 1, f"{d} >= 1", f"the output {out} of {n.type} "
                                                           f"'{n.path}'"))
    for n in graph.leaves():
        for r in (n.result.requires if n.result is not None else ()):
            rules.setdefault((str(r.size), r.at_least), SizeRule(r.size, r.at_least, r.text(),
                                                                 f"{n.type} '{n.path}'"))
    return list(rules.values())


def rules_json(graph: Any) -> list[dict[str, object]]:
    """The graph's size rules as the JSON an exported model's metadata and a run's config keep."""
    return [r.to_json() for r in size_rules(graph)]


def rules_from_json(value: object) -> list[SizeRule]:
    """The rules :func:`rules_json` wrote; none for anything else (another tool's model, a file
    edited by hand): the caller then runs without them, as before they existed."""
    try:
        return [SizeRule.from_json(v) for v in value] if isinstance(value, list) else []
    except (ValueError, TypeError, RecursionError):
        return []
