"""Timing engines against each other fairly on a shared machine (no torch: the deploy extras use it too)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .errors import first_line as _first_line


def first_line(exc: BaseException) -> str:
    return _first_line(exc, 200)


def time_interleaved(calls: dict[str, Callable[[], Any]], runs: int, *, max_seconds: float = 10.0,
                     warmup: int = 3, min_rounds: int = 3, sync: Callable[[], None] | None = None,
                     burst: int = 10) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Seconds per call of each engine, timed in rounds so that a busy machine slows every
    engine alike. In each round every engine runs a short burst of calls and the first call of
    the burst is not timed: one cold call per engine per round would time each engine's thread
    pool waking up (ONNX Runtime's parks its threads), which back-to-back requests never pay.
    Stops after ``runs`` timed calls per engine, or after ``min_rounds`` rounds once
    ``max_seconds`` have passed. Returns (times, failures by engine)."""
    failed: dict[str, str] = {}
    live: dict[str, Callable[[], Any]] = {}
    for name, fn in calls.items():
        try:
            for _ in range(warmup):
                fn()
            if sync:
                sync()
            live[name] = fn
        except Exception as exc:  # noqa: BLE001 -- one engine failing must not stop the others
            failed[name] = f"failed: {first_line(exc)}"
    times: dict[str, list[float]] = {name: [] for name in live}
    deadline = time.perf_counter() + max_seconds
    timed = max(1, burst - 1)
    rounds = max(1, -(-runs // timed))
    for i in range(rounds):
        for name, fn in list(live.items()):
            try:
                for k in range(burst):
                    start = time.perf_counter()
                    fn()
                    if sync:
                        sync()
                    if k or burst == 1:
                        times[name].append(time.perf_counter() - start)
            except Exception as exc:  # noqa: BLE001
                failed[name] = f"failed: {first_line(exc)}"
                del live[name], times[name]
                continue
        if i + 1 >= min_rounds and time.perf_counter() > deadline:
            break
    return {name: t[:runs] for name, t in times.items()}, failed
