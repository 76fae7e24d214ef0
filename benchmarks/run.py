"""Benchmarks for runway-img, each a ratio against a baseline measured in the same run.

    python benchmarks/run.py                 # everything, under 5 minutes
    python benchmarks/run.py startup memory  # some of: startup status generate requests batch memory

Needs the test extra (`pip install -e '.[test]'`: the official `runwayml` SDK is a baseline,
never a runtime dependency). Everything runs against the sandbox on 127.0.0.1.

1. startup   `--version` vs `python -c "import typer"`; `generate --help` and one completion
             request vs the same on a minimal Typer app (one command, a few options).
2. status    `runway-img status ID --json` vs a script calling the SDK's `tasks.retrieve`.
3. generate  a 2 s task, create -> saved file: `runway-img generate` vs the SDK's
             `text_to_image.create(...).wait_for_task_output()` plus a download.
4. requests  HTTP requests for a 2 s task (measured: create, polls, download) and a 60 s task
             (simulated clock: polls + the create and the download): ours vs the SDK.
5. batch     40 prompts, 1 s tasks, sandbox concurrency 8, `--concurrency 8`, default polls:
             wall time vs the ideal (40 / 8 x 1 s), and vs a sequential SDK loop
             (extrapolated from 5 items).
6. memory    peak RSS of `runway-img download` for a 50 MB output vs a 1 MB output.
"""

from __future__ import annotations

import json
import os
import platform
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from runway_cli.polling import PollSchedule
from runway_cli.sandbox import SandboxServer, Timeline

KEY = "key_" + "be" * 64
PY = sys.executable
RESULTS: list[tuple[str, str, str, float, str, bool]] = []

MINI_APP = textwrap.dedent(
    '''
    from pathlib import Path
    from typing import Annotated

    import typer

    app = typer.Typer(rich_markup_mode=None)


    @app.callback()
    def root() -> None:
        """A minimal app."""


    @app.command()
    def generate(
        prompt: str,
        model: Annotated[str, typer.Option("--model", "-m", help="Model.")] = "gen4_image",
        ratio: Annotated[str | None, typer.Option("--ratio", "-r", help="Ratio.")] = None,
        count: Annotated[int | None, typer.Option("--count", "-n", help="Count.")] = None,
        output: Annotated[Path | None, typer.Option("--output", "-o", help="Output.")] = None,
        force: Annotated[bool, typer.Option("--force", help="Overwrite.")] = False,
    ) -> None:
        """Generate an image."""


    app(prog_name="mini")
    '''
)

SDK_STATUS = textwrap.dedent(
    """
    import sys
    from runwayml import RunwayML
    client = RunwayML(api_key=sys.argv[1], base_url=sys.argv[2])
    task = client.tasks.retrieve(sys.argv[3])
    print(task.model_dump_json())
    """
)

SDK_GENERATE = textwrap.dedent(
    """
    import sys
    import httpx
    from runwayml import RunwayML
    key, base, prompt, out = sys.argv[1:5]
    client = RunwayML(api_key=key, base_url=base)
    task = client.text_to_image.create(
        model="gen4_image", prompt_text=prompt, ratio="1280:720"
    ).wait_for_task_output()
    with httpx.stream("GET", task.output[0]) as response, open(out, "wb") as fh:
        for chunk in response.iter_bytes():
            fh.write(chunk)
    print(out)
    """
)


def record(group: str, what: str, baseline: str, ratio: float, target: str, ok: bool) -> None:
    RESULTS.append((group, what, baseline, ratio, target, ok))
    mark = "ok" if ok else "MISSED"
    print(f"  {what}  vs  {baseline}: {ratio:.2f}x (target {target}) {mark}", flush=True)


def runway_img() -> str:
    exe = Path(PY).parent / "runway-img"
    return str(exe) if exe.exists() else shutil.which("runway-img") or "runway-img"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNWAYML_", "RUNWAY_IMG_"))}
    env.update(NO_COLOR="1", TERM="dumb", **extra)
    return env


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t0


def medians(commands: dict[str, tuple[list[str], dict[str, str]]], runs: int) -> dict[str, float]:
    """Median wall time of each command, runs interleaved so machine noise hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for cmd, env in commands.values():  # warm the page cache once
        timed(cmd, env)
    for _ in range(runs):
        for name, (cmd, env) in commands.items():
            samples[name].append(timed(cmd, env))
    return {name: statistics.median(values) for name, values in samples.items()}


@contextmanager
def sandbox(**kwargs: object) -> Iterator[SandboxServer]:
    with tempfile.TemporaryDirectory() as tmp:
        server = SandboxServer(keys=[KEY], state_path=Path(tmp) / "state.sqlite3", **kwargs)  # type: ignore[arg-type]
        with server:
            yield server


def api_env(server: SandboxServer, home: Path) -> dict[str, str]:
    return clean_env(
        RUNWAYML_BASE_URL=server.base_url,
        RUNWAYML_API_SECRET=KEY,
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
    )


# -- 1. start-up ------------------------------------------------------------------------------


def bench_startup(runs: int = 15) -> None:
    print("startup", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        mini = Path(tmp) / "mini.py"
        mini.write_text(MINI_APP)
        env = clean_env(XDG_DATA_HOME=tmp, XDG_CONFIG_HOME=tmp, XDG_CACHE_HOME=tmp)
        ours_complete = {**env, "_RUNWAY_IMG_COMPLETE": "complete_bash"}
        ours_complete.update(COMP_WORDS="runway-img generate --model ", COMP_CWORD="3")
        mini_complete = {**env, "_MINI_COMPLETE": "complete_bash"}
        mini_complete.update(COMP_WORDS="mini generate --model ", COMP_CWORD="3")
        t = medians(
            {
                "version": ([runway_img(), "--version"], env),
                "import typer": ([PY, "-c", "import typer"], env),
                "help": ([runway_img(), "generate", "--help"], env),
                "mini help": ([PY, str(mini), "generate", "--help"], env),
                "complete": ([runway_img()], ours_complete),
                "mini complete": ([PY, str(mini)], mini_complete),
            },
            runs,
        )
    for ours, base, target in (
        ("version", "import typer", 1.3),
        ("help", "mini help", 1.1),
        ("complete", "mini complete", 1.1),
    ):
        ratio = t[ours] / t[base]
        record(
            "startup",
            f"{ours} {t[ours] * 1000:.0f} ms",
            f"{base} {t[base] * 1000:.0f} ms",
            ratio,
            f"<= {target}x",
            ratio <= target,
        )


# -- 2. one status call ----------------------------------------------------------------------


def bench_status(runs: int = 9) -> None:
    print("status", flush=True)
    with (
        sandbox(timeline=Timeline(pending=0.1, running=0.1)) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        env = api_env(server, Path(tmp))
        task_id = json.loads(
            subprocess.run(
                [runway_img(), "generate", "a fox", "--no-wait", "--json", "-q"],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )["id"]
        script = Path(tmp) / "sdk_status.py"
        script.write_text(SDK_STATUS)
        t = medians(
            {
                "ours": ([runway_img(), "status", task_id, "--json"], env),
                "sdk": ([PY, str(script), KEY, server.base_url, task_id], env),
            },
            runs,
        )
    ratio = t["ours"] / t["sdk"]
    record(
        "status",
        f"runway-img status {t['ours'] * 1000:.0f} ms",
        f"SDK tasks.retrieve {t['sdk'] * 1000:.0f} ms",
        ratio,
        "<= 0.6x",
        ratio <= 0.6,
    )


# -- 3. one generation, and 4. requests per task ---------------------------------------------


@dataclass
class Run:
    seconds: float
    requests: int  # every request the sandbox saw: the create, polls, the download


def _one_generation(
    cmd: Callable[[Path], list[str]], env: dict[str, str], server: SandboxServer, tmp: Path
) -> Run:
    before = len(server.request_log())
    out = tmp / f"out-{random.randrange(1 << 30)}.png"
    t0 = time.perf_counter()
    subprocess.run(cmd(out), env=env, check=True, capture_output=True)
    elapsed = time.perf_counter() - t0
    assert out.stat().st_size > 0
    return Run(elapsed, len(server.request_log()) - before)


def bench_generate(runs: int = 5) -> None:
    print("generate (a 2 s sandbox task)", flush=True)
    with (
        sandbox(timeline=Timeline(pending=0.4, running=1.6)) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        home = Path(tmp)
        env = api_env(server, home)
        script = home / "sdk_generate.py"
        script.write_text(SDK_GENERATE)
        ours: list[Run] = []
        sdk: list[Run] = []
        for _ in range(runs):
            ours.append(
                _one_generation(
                    lambda out: [runway_img(), "generate", "a lighthouse", "-o", str(out), "-q"],
                    env,
                    server,
                    home,
                )
            )
            sdk.append(
                _one_generation(
                    lambda out: [PY, str(script), KEY, server.base_url, "a lighthouse", str(out)],
                    env,
                    server,
                    home,
                )
            )
    ours_t = statistics.median(r.seconds for r in ours)
    sdk_t = statistics.median(r.seconds for r in sdk)
    record(
        "generate",
        f"runway-img generate {ours_t:.2f} s",
        f"SDK create+wait+download {sdk_t:.2f} s",
        ours_t / sdk_t,
        "<= 0.6x",
        ours_t / sdk_t <= 0.6,
    )
    ours_p = statistics.median(r.requests for r in ours)
    sdk_p = statistics.median(r.requests for r in sdk)
    record(
        "requests",
        f"requests for a 2 s task: {ours_p:g}",
        f"SDK {sdk_p:g}",
        ours_p / sdk_p,
        "<= 1.5x",
        ours_p / sdk_p <= 1.5,
    )


def simulated_polls(delays: Iterator[float], task_seconds: float) -> int:
    """Polls until one lands after the task ended (a simulated clock: no sleeping)."""
    now = 0.0
    for polls, delay in enumerate(delays, start=1):
        now += delay
        if now >= task_seconds:
            return polls
    raise AssertionError("unreachable")


def sdk_delays(rng: random.Random) -> Iterator[float]:
    while True:  # runwayml/lib/polling.py: POLL_TIME 6 +/- POLL_JITTER / 2
        yield 6 + rng.random() * 3 - 1.5


def bench_requests(task_seconds: float = 60.0, trials: int = 200) -> float:
    print(f"requests (a {task_seconds:g} s task, simulated clock)", flush=True)
    rng = random.Random(7)
    # + 2: the create and the download, the same for both
    ours = 2 + statistics.median(
        simulated_polls(PollSchedule(rng=rng).delays(), task_seconds) for _ in range(trials)
    )
    sdk = 2 + statistics.median(
        simulated_polls(sdk_delays(rng), task_seconds) for _ in range(trials)
    )
    record(
        "requests",
        f"requests for a {task_seconds:g} s task: {ours:g}",
        f"SDK {sdk:g}",
        ours / sdk,
        "<= 1.5x",
        ours / sdk <= 1.5,
    )
    return ours / sdk


# -- 5. batch ----------------------------------------------------------------------------------


def bench_batch(prompts: int = 40, concurrency: int = 8, sdk_items: int = 5) -> None:
    print(f"batch ({prompts} prompts, 1 s tasks, concurrency {concurrency})", flush=True)
    with (
        sandbox(
            timeline=Timeline(pending=0.2, running=0.8), concurrency=concurrency, daily_limit=None
        ) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        home = Path(tmp)
        env = api_env(server, home)
        items = home / "prompts.txt"
        items.write_text("".join(f"a lighthouse, take {n}\n" for n in range(prompts)))
        t0 = time.perf_counter()
        subprocess.run(
            [
                runway_img(),
                "batch",
                str(items),
                "-o",
                str(home / "out"),
                "--concurrency",
                str(concurrency),
                "-q",
                "--yes",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        ours = time.perf_counter() - t0
        ideal = prompts / concurrency * 1.0
        record(
            "batch",
            f"runway-img batch {ours:.2f} s",
            f"ideal {ideal:.2f} s",
            ours / ideal,
            "<= 1.5x",
            ours / ideal <= 1.5,
        )
        script = home / "sdk_generate.py"
        script.write_text(SDK_GENERATE)
        t0 = time.perf_counter()
        for n in range(sdk_items):
            subprocess.run(
                [
                    PY,
                    str(script),
                    KEY,
                    server.base_url,
                    f"a lighthouse {n}",
                    str(home / f"sdk-{n}.png"),
                ],
                env=env,
                check=True,
                capture_output=True,
            )
        sdk = (time.perf_counter() - t0) / sdk_items * prompts
    record(
        "batch",
        f"runway-img batch {ours:.2f} s",
        f"sequential SDK loop {sdk:.0f} s (extrapolated from {sdk_items})",
        ours / sdk,
        "faster",
        ours < sdk,
    )


# -- 6. memory -----------------------------------------------------------------------------


def png_of_size(size: int) -> bytes:
    """A valid PNG of about ``size`` bytes: stored (uncompressed) deflate blocks of noise."""
    width = 1024
    row = width * 3 + 1
    height = max(1, size // row)
    raw = b"".join(b"\x00" + random.randbytes(width * 3) for _ in range(height))
    body = zlib.compress(raw, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


class _FakeAPI(BaseHTTPRequestHandler):
    """GET /v1/tasks/ID -> SUCCEEDED with one output; GET /file.png -> the image."""

    protocol_version = "HTTP/1.1"
    image = b""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/v1/tasks/"):
            host, port = self.server.server_address[:2]
            body = json.dumps(
                {
                    "id": self.path.rsplit("/", 1)[1],
                    "status": "SUCCEEDED",
                    "createdAt": "2026-12-01T00:00:00.000Z",
                    "output": [f"http://{host}:{port}/file.png"],
                    "cost": {"credits": 5},
                }
            ).encode()
            self._send(body, "application/json")
        else:
            self._send(self.image, "image/png")

    def _send(self, body: bytes, ctype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        view = memoryview(body)
        for i in range(0, len(body), 1 << 20):
            self.wfile.write(view[i : i + (1 << 20)])


def serve_fake_api(size: int) -> None:
    """Run by peak_rss_mb in a child process, so the measuring process stays small."""
    _FakeAPI.image = png_of_size(size)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _FakeAPI)
    print(httpd.server_address[1], len(_FakeAPI.image), flush=True)
    httpd.serve_forever()


def peak_rss_mb(size: int) -> float:
    """Peak RSS of a `runway-img download` of an output of about ``size`` bytes."""
    server = subprocess.Popen(
        [PY, __file__, "--serve-fake-api", str(size)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port, length = (int(x) for x in server.stdout.readline().split())
        with tempfile.TemporaryDirectory() as tmp:
            env = clean_env(XDG_DATA_HOME=tmp, XDG_CONFIG_HOME=tmp, XDG_CACHE_HOME=tmp)
            # Measured by a small launcher, not by this process: on Linux a child's peak RSS
            # starts at its parent's size at fork time, and this process has grown by now.
            proc = subprocess.Popen(
                [
                    PY,
                    "-c",
                    LAUNCHER,
                    runway_img(),
                    "download",
                    "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b",
                    "-o",
                    f"{tmp}/out.png",
                    "--base-url",
                    f"http://127.0.0.1:{port}",
                    "--api-key",
                    KEY,
                    "-q",
                ],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            out, _ = proc.communicate()
            assert proc.returncode == 0, out
            assert Path(f"{tmp}/out.png").stat().st_size == length
            return int(out) / 1024  # KiB on Linux
    finally:
        server.kill()
        server.wait()


LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit(f"exit {os.waitstatus_to_exitcode(status)}")
print(usage.ru_maxrss)
"""


def bench_memory() -> None:
    print("memory (peak RSS of a download)", flush=True)
    small = peak_rss_mb(1 << 20)
    big = peak_rss_mb(50 << 20)
    record(
        "memory",
        f"50 MB output {big:.1f} MB RSS",
        f"1 MB output {small:.1f} MB RSS",
        big / small,
        "within +10 MB",
        big - small <= 10,
    )


GROUPS: dict[str, Callable[[], object]] = {
    "startup": bench_startup,
    "status": bench_status,
    "generate": bench_generate,
    "requests": bench_requests,
    "batch": bench_batch,
    "memory": bench_memory,
}


def cache_bytecode(folder: str) -> None:
    """Every process runs with its bytecode cached, as an installed copy does (pip compiles
    what it installs), even where PYTHONDONTWRITEBYTECODE is set: otherwise an editable
    install compiles runway_cli from source on every run while the baselines' packages load
    compiled. The cache lives in a temporary folder and is filled before anything is timed."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = folder
    warm = "import runway_cli.cli.app, runway_cli.sandbox, runway_cli.workflow, runwayml, rich.live"
    subprocess.run([PY, "-c", warm], check=True)
    subprocess.run([runway_img(), "generate", "--help"], check=True, capture_output=True)


def main(names: list[str]) -> int:
    started = time.perf_counter()
    bytecode = tempfile.TemporaryDirectory()
    cache_bytecode(bytecode.name)
    print(
        f"runway-img benchmarks on {platform.node()} ({platform.machine()}, {os.cpu_count()} cpus), "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}\n"
    )
    for name in names or list(GROUPS):
        GROUPS[name]()
    print("\n| group | ours | baseline | ratio | target | |\n|---|---|---|---|---|---|")
    for group, what, baseline, ratio, target, ok in RESULTS:
        print(
            f"| {group} | {what} | {baseline} | {ratio:.2f}x | {target} | {'ok' if ok else 'MISSED'} |"
        )
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0 if all(r[-1] for r in RESULTS) else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-fake-api"]:
        serve_fake_api(int(sys.argv[2]))
    sys.exit(main(sys.argv[1:]))
