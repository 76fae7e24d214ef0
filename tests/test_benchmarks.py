"""The benchmark script keeps working as the code under it changes (a smoke run, no timings)."""

from __future__ import annotations

import importlib.util
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_simulated_request_counts_are_reported_as_a_ratio(capsys) -> None:
    bench = _bench()
    ratio = bench.bench_requests(task_seconds=60, trials=20)
    assert 0.5 < ratio < 3
    assert "requests for a 60 s task" in capsys.readouterr().out


def test_the_memory_benchmark_serves_a_real_png() -> None:
    bench = _bench()
    data = bench.png_of_size(200_000)
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")
    assert 190_000 < len(data) < 210_000
    idat = data.index(b"IDAT")
    length = int.from_bytes(data[idat - 4 : idat], "big")
    zlib.decompress(data[idat + 4 : idat + 4 + length])  # a valid zlib stream
