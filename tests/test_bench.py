"""`specc bench`: every engine gets a row, failures are reported in place, and no time is asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import specc
from specc.backends import bench as bench_mod
from specc.backends.bench import COMPILED, EAGER, ORT, bench_spec, time_interleaved
from specc.cli import main

ROOT = Path(__file__).resolve().parents[1]
XOR = str(ROOT / "specs" / "xor.yaml")


def test_rows_for_every_engine_and_batch() -> None:
    report = bench_spec(specc.load(XOR), batches=[1, 4], runs=3, compile=False, max_seconds=1)
    cpu = [(r.engine, r.batch) for r in report.rows if r.device == "cpu"]
    assert cpu == [(EAGER, 1), (ORT, 1), (EAGER, 4), (ORT, 4)]
    for r in report.rows:
        assert r.p50_ms is not None and 0 < r.p50_ms <= r.p90_ms and r.runs == 3
        assert r.throughput is not None and r.throughput > 0
    assert report.speedup(report.find(EAGER, "cpu", 1)) == 1.0
    assert report.exporter == "torchscript" and report.export_seconds > 0
    assert report.params == 4 * 2 + 4 + 4 + 1
    assert "torch.compile skipped" in " ".join(report.notes)
    text = report.render()
    assert "p50 ms" in text and "samples/s" in text and "vs eager" in text
    if not torch.cuda.is_available():
        assert all(r.device == "cpu" for r in report.rows)


def test_a_failing_torch_compile_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_compile(module: torch.nn.Module) -> object:
        def call(*args: object) -> None:
            raise RuntimeError("inductor is unhappy")

        return call

    monkeypatch.setattr(bench_mod.torch, "compile", broken_compile)
    report = bench_spec(specc.load(XOR), batches=[2], runs=2, compile=True, max_seconds=1)
    row = report.find(COMPILED, "cpu", 2)
    assert row is not None and row.p50_ms is None
    assert "torch.compile failed: RuntimeError: inductor is unhappy" in row.note
    assert report.find(ORT, "cpu", 2).p50_ms is not None  # the other engines still ran


def test_timing_rounds_stop_at_the_time_cap_and_survive_a_failure() -> None:
    calls: list[str] = []

    def broken() -> None:
        raise ValueError("no")

    times, failed = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b"), "c": broken},
                                     1000, max_seconds=0, warmup=2, min_rounds=3, burst=1)
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}
    assert calls[4:] == ["a", "b"] * 3  # after warm-up, one call of each engine per round
    assert failed == {"c": "failed: ValueError: no"}


def test_each_round_times_a_warm_burst_of_each_engine() -> None:
    # The first call of a burst wakes the engine's thread pool and is not timed.
    calls: list[str] = []
    times, _ = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                                4, max_seconds=60, warmup=1, burst=3)
    assert calls[2:] == ["a"] * 3 + ["b"] * 3 + ["a"] * 3 + ["b"] * 3
    assert {k: len(v) for k, v in times.items()} == {"a": 4, "b": 4}


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", XOR, "--batch", "1,3", "--runs", "2", "--no-compile", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["spec"] == "XorNet"
    assert {(r["engine"], r["batch"]) for r in report["rows"]} >= {(EAGER, 1), (ORT, 1), (EAGER, 3), (ORT, 3)}
    assert all("speedup_vs_eager" in r and "throughput_per_s" in r for r in report["rows"])
    assert report["machine"]["physical_cores"] >= 1


@pytest.mark.parametrize("batch", ["0", "x", ""])
def test_cli_bad_batch_is_a_usage_error(batch: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", XOR, "--batch", batch]) == 2
    assert "--batch" in capsys.readouterr().err
