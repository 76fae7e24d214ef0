"""Benchmarks for runway-img. Each result is a ratio against a baseline measured in the same run.

    python benchmarks/run.py

1. Start-up: `runway-img --version` against a bare `python -c pass`.
2. Download memory and time: our streaming save (temp file + checks + rename) against the naive
   `requests.get(url).content` + write, for a 64 MiB file served over 127.0.0.1.
3. Waiting: how soon a finished task is noticed, and how many polls it costs, with our schedule
   against the official SDK's fixed ~6 s sleep and a naive 1 s poll (simulated clock).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from runway_cli.client import RunwayClient
from runway_cli.downloads import save_output
from runway_cli.waiting import PollSchedule

PAYLOAD = b"\x89PNG\r\n\x1a\n" + bytes(64 * 1024 * 1024 - 8)


def bench_startup(runs: int = 7) -> None:
    def timed(cmd: list[str]) -> float:
        samples = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples)

    base = timed([sys.executable, "-c", "pass"])
    ours = timed([sys.executable, "-m", "runway_cli", "--version"])
    print(
        f"startup: runway-img --version {ours * 1000:.0f} ms, bare python {base * 1000:.0f} ms, "
        f"ratio {ours / base:.1f}x"
    )


class _Files(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        view = memoryview(PAYLOAD)
        for i in range(0, len(PAYLOAD), 1 << 20):
            self.wfile.write(view[i : i + (1 << 20)])

    def log_message(self, *args: object) -> None:
        pass


def bench_download() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/big.png"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def naive() -> None:
            (folder / "naive.png").write_bytes(requests.get(url, timeout=60).content)

        client = RunwayClient("http://127.0.0.1:1", "key_bench")

        def ours() -> None:
            save_output(client, url, lambda kind: folder / "ours.png", force=True)

        results = {}
        for name, fn in (("naive", naive), ("streaming", ours)):
            tracemalloc.start()
            t0 = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - t0
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            results[name] = (elapsed, peak)
        assert (folder / "ours.png").stat().st_size == len(PAYLOAD)
    server.shutdown()
    (nt, npk), (st, spk) = results["naive"], results["streaming"]
    print(
        f"download 64 MiB: naive peak {npk / 2**20:.1f} MiB in {nt:.2f}s; "
        f"streaming peak {spk / 2**20:.2f} MiB in {st:.2f}s; "
        f"memory ratio {spk / npk:.3f}x, time ratio {st / nt:.2f}x"
    )


def _first_seen(delays, task_seconds: float) -> tuple[float, int]:
    t = 0.0
    for polls, d in enumerate(delays, start=1):
        t += d
        if t >= task_seconds:
            return t, polls
    raise AssertionError


def bench_waiting() -> None:
    import itertools
    import random

    for task_seconds in (2.0, 10.0, 60.0):
        ours = _first_seen(PollSchedule(rng=random.Random(1)).delays(), task_seconds)
        sdk_rng = random.Random(1)
        sdk_delays = (6 + sdk_rng.uniform(-1.5, 1.5) for _ in itertools.count())
        sdk = _first_seen(sdk_delays, task_seconds)
        naive = _first_seen(itertools.repeat(1.0), task_seconds)
        print(
            f"waiting, {task_seconds:>4.0f}s task: ours seen at {ours[0]:.1f}s with {ours[1]} polls; "
            f"SDK-style 6s sleep {sdk[0]:.1f}s/{sdk[1]} polls (latency ratio {ours[0] / sdk[0]:.2f}x); "
            f"naive 1s {naive[0]:.1f}s/{naive[1]} polls (poll ratio {ours[1] / naive[1]:.2f}x)"
        )


if __name__ == "__main__":
    bench_startup()
    bench_download()
    bench_waiting()
