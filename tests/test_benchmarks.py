"""The benchmark script keeps working as the code under it changes (a smoke run, no timings)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_waiting_benchmark_runs_and_reports_ratios(capsys):
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.bench_waiting()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all("latency ratio" in line and "poll ratio" in line for line in lines)
