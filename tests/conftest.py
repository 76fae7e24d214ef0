"""Shared fixtures: an isolated home for every test, a sandbox on 127.0.0.1, and a CLI runner.

End-to-end tests run the real CLI in a subprocess (``python -m runway_cli``) against a sandbox
server started in the test process, over real sockets. Every run is checked for the key
leaking into stdout or stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runway_cli.sandbox import SandboxServer, Timeline

KEY = "key_" + "ab12" * 32
FAST = Timeline(pending=0.05, running=0.25)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    args: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Result(code={self.code}, args={self.args}, stdout={self.stdout!r}, stderr={self.stderr!r})"


def spawn(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start the CLI in the background (for tests that signal it mid-run)."""
    return subprocess.Popen(
        [sys.executable, "-m", "runway_cli", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    for sub in ("config", "cache", "data", "work"):
        (h / sub).mkdir(parents=True)
    return h


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    """A clean environment: isolated platformdirs, fast polling and retries, no colour."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RUNWAYML_", "RUNWAY_IMG_", "XDG_"))
    }
    base.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_DATA_HOME=str(home / "data"),
        RUNWAY_IMG_POLL_INTERVAL="0.05",
        RUNWAY_IMG_RETRY_BACKOFF="0.01",
        RUNWAY_IMG_SANDBOX_TASK_SECONDS="0.3",
        NO_COLOR="1",
        TERM="dumb",
        PYTHONIOENCODING="utf-8",
    )
    return base


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    server = SandboxServer(keys=[KEY], state_path=tmp_path / "sandbox.sqlite3", timeline=FAST)
    with server:
        yield server


@pytest.fixture
def api_env(env: dict[str, str], sandbox: SandboxServer) -> dict[str, str]:
    """``env`` pointed at the test's sandbox with a valid key."""
    return {**env, "RUNWAYML_BASE_URL": sandbox.base_url, "RUNWAYML_API_SECRET": KEY}


@pytest.fixture
def workdir(home: Path) -> Path:
    return home / "work"


@pytest.fixture
def run(workdir: Path, env: dict[str, str]):  # type: ignore[no-untyped-def]
    def _run(
        *args: str,
        env: dict[str, str] | None = None,
        input: str | None = None,
        timeout: float = 60,
        cwd: Path | None = None,
    ) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "runway_cli", *args],
            env=env if env is not None else default_env,
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            cwd=cwd or workdir,
            check=False,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr, args)
        assert KEY not in proc.stdout and KEY not in proc.stderr, f"key leaked: {result!r}"
        assert "Traceback" not in proc.stderr, f"traceback: {result!r}"
        return result

    default_env = env
    return _run
