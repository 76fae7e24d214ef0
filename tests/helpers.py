"""Small helpers shared by the command-level tests (fixtures live in conftest.py)."""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runway_cli.sandbox import SandboxServer
from runway_cli.sandbox.images import make_png
from runway_cli.wire import API_VERSION, VERSION_HEADER

CREATE = "/v1/text_to_image"
FILES = "/_sandbox/files/"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
UUID_RE = re.compile(UUID)
SOME_TASK_ID = "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b"  # well formed, unknown to every sandbox


def api_headers(key: str) -> dict[str, str]:
    """What any Runway client sends: the Bearer key and the API version."""
    return {"Authorization": f"Bearer {key}", VERSION_HEADER: API_VERSION}


def stored_credentials(key: str) -> dict[str, Any]:
    """What credentials.json holds after ``auth login`` (the default profile)."""
    return {"profiles": {"default": {"api_key": key}}}


def task_id_from(text: str) -> str:
    """The first task id in some output (the id is never lost: it is on stderr)."""
    match = UUID_RE.search(text)
    assert match, f"no task id in {text!r}"
    return match.group(0)


def error_line(stderr: str) -> str:
    """The one ``error:`` line of a failed run (a failure is one line, never several)."""
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def files_in(folder: Path) -> list[str]:
    """Every name in a folder, sorted: to show that nothing (no temporary file) is left over."""
    return sorted(p.name for p in folder.iterdir())


def state_files(home: Path) -> list[str]:
    """Everything runway-img has written under the isolated home's config, cache and data
    folders (history, keys, sandbox state): empty after a run that was refused up front."""
    return sorted(
        str(p.relative_to(home))
        for sub in ("config", "cache", "data")
        for p in (home / sub).rglob("*")
        if p.is_file()
    )


def tasks_created(sandbox: SandboxServer) -> int:
    """Tasks the sandbox really created (not create requests: some were refused or dropped)."""
    return sum(sandbox.store.daily_counts().values())


def create_body(sandbox: SandboxServer) -> dict[str, Any]:
    """The JSON body of the one create request the sandbox saw."""
    creates = [e for e in sandbox.requests if e["method"] == "POST" and e["path"] == CREATE]
    assert len(creates) == 1, creates
    return creates[0]["json"]


def file_requests(sandbox: SandboxServer) -> list[dict[str, Any]]:
    """Requests for output files (the file host, not the API)."""
    return [e for e in sandbox.requests if e["path"].startswith(FILES)]


def history(cli: Callable[..., Any], env: dict[str, str]) -> list[dict[str, Any]]:
    """The local history, newest first, as ``history --json`` prints it."""
    r = cli("history", "--json", env=env)
    assert r.code == 0, r
    return json.loads(r.stdout)["tasks"]


def wait_until(predicate: Callable[[], object], timeout: float = 20, what: str = "") -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
        time.sleep(0.01)


@functools.cache
def png(name: str, width: int, height: int) -> bytes:
    """A real PNG (made once per test process: the big one takes a quarter of a second)."""
    return make_png(name, width, height)


def write_small_png(folder: Path, name: str = "small.png") -> str:
    (folder / name).write_bytes(png("small", 64, 64))
    return name


def write_big_png(folder: Path, name: str = "big.png") -> str:
    """About 4.5 MB: its data: URI would pass the API's 5 MiB limit, so it must be uploaded."""
    data = png("big", 1536, 1024)
    assert len(data) * 4 / 3 > 5 * 1024 * 1024
    (folder / name).write_bytes(data)
    return name


def megabytes(path: Path) -> str:
    """A file's size as runway-img shows it (``4.5``)."""
    return f"{path.stat().st_size / 2**20:.1f}"


def assert_refused(result: Any, sandbox: SandboxServer, home: Path, needle: str) -> None:
    """Bad input: exit 2, one error line that says why, nothing on stdout, no request sent,
    and nothing recorded (no history entry: nothing is in doubt)."""
    assert result.code == 2, result
    assert needle in error_line(result.stderr), result
    assert result.stdout == "", result
    assert sandbox.requests == [], sandbox.requests
    assert state_files(home) == []
