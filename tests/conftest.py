"""Shared fixtures: an isolated environment and home for every test (folders of its own for a
test that uses files), a sandbox on 127.0.0.1, and two ways to run the CLI.

- ``cli(...)`` runs a command in-process (Typer's CliRunner) against the real sandbox over real
  sockets: the default, about five times cheaper than a process.
- ``run(...)`` spawns ``python -m runway_cli``: only where the process is the point (signals,
  terminals, closed file descriptors, the entry point).

Both check every run for the key leaking into stdout or stderr and for tracebacks.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runway_cli.sandbox import SandboxServer, Timeline

KEY = "key_" + "ab12" * 32
# Tasks of the ``sandbox`` fixture end within one poll (0.05 s): most tests are about what
# surrounds the wait. A test that watches a task in progress says so: a ``[sandbox:hang]``
# prompt, a sandbox on the test's own clock, or a slower timeline of its own.
FAST = Timeline(pending=0.01, running=0.04)
_OWN_PREFIXES = ("RUNWAYML_", "RUNWAY_IMG_", "XDG_")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    args: tuple[str, ...]

    def __repr__(self) -> str:
        return (
            f"Result(code={self.code}, args={self.args}, stdout={self.stdout!r}, "
            f"stderr={self.stderr!r})"
        )


def check_clean(result: Result) -> Result:
    """No key in any output, and no traceback: every failure is a message."""
    assert KEY not in result.stdout and KEY not in result.stderr, f"key leaked: {result!r}"
    assert "Traceback" not in result.stderr, f"traceback: {result!r}"
    return result


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` starts half as many workers again as there are CPUs (3 on 2): about a
    third of the suite is waiting (sandbox tasks, retry back-offs, subprocesses), which
    another worker fills. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still decides when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    from xdist.plugin import pytest_xdist_auto_num_workers as cpus

    count = cpus(config)
    return count + max(1, count // 2)


_HOME_FOLDERS = ("config", "cache", "data", "work")


def _isolate(h: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the environment and the working folder at the home ``h``, and drop everything
    from the developer's setup: fast polling and retries, no colour."""
    for name in [k for k in os.environ if k.startswith(_OWN_PREFIXES)]:
        monkeypatch.delenv(name)
    for name in ("FORCE_COLOR", "CI", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "HOME": str(h),
        "XDG_CONFIG_HOME": str(h / "config"),
        "XDG_CACHE_HOME": str(h / "cache"),
        "XDG_DATA_HOME": str(h / "data"),
        "RUNWAY_IMG_POLL_INTERVAL": "0.05",
        "RUNWAY_IMG_RETRY_BACKOFF": "0.01",
        "RUNWAY_IMG_SANDBOX_TASK_SECONDS": "0.05",
        "NO_COLOR": "1",
        "TERM": "dumb",
        "PYTHONIOENCODING": "utf-8",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(h / "work")


def _make_home(h: Path) -> Path:
    for sub in _HOME_FOLDERS:
        (h / sub).mkdir(parents=True)
    return h


def _untouched(h: Path) -> bool:
    with os.scandir(h) as entries:
        if sorted(e.name for e in entries) != sorted(_HOME_FOLDERS):
            return False
    for sub in _HOME_FOLDERS:
        st = os.lstat(h / sub)
        if not stat.S_ISDIR(st.st_mode) or stat.S_IMODE(st.st_mode) != 0o755:
            return False
        with os.scandir(h / sub) as entries:
            if next(entries, None) is not None:
                return False
    return True


@pytest.fixture(scope="session")
def _shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    h = _make_home(tmp_path_factory.mktemp("shared-home"))
    for sub in _HOME_FOLDERS:
        (h / sub).chmod(0o755)
    return h


@pytest.fixture(autouse=True)
def _isolated(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, _shared_home: Path
) -> Iterator[None]:
    """Every test runs isolated: a clean environment, and a config, cache, data and working
    folder that are not the developer's. A test that asks for ``home`` (or for ``workdir``,
    ``env``, ``api_env``, ``run``, which use it) gets folders of its own; any other test shares
    one empty home per worker, which it must leave empty: a test that writes a file there
    fails and is told to ask for ``home`` (making four folders per test is a few milliseconds
    on some disks, and most tests never write one)."""
    if "home" in request.fixturenames:
        yield
        return
    _isolate(_shared_home, monkeypatch)
    yield
    if not _untouched(_shared_home):
        shutil.rmtree(_shared_home)
        _make_home(_shared_home)
        for sub in _HOME_FOLDERS:
            (_shared_home / sub).chmod(0o755)
        pytest.fail(
            "this test wrote under the shared home or working folder: give it its own "
            "(ask for the `home` or `workdir` fixture)",
            pytrace=False,
        )


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own config, cache, data and working folder (the working folder is the
    current one), in the isolated environment."""
    h = _make_home(tmp_path / "home")
    _isolate(h, monkeypatch)
    return h


@pytest.fixture
def workdir(home: Path) -> Path:
    return home / "work"


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    """The isolated environment as a dict (for subprocesses, or to edit and pass to cli)."""
    return dict(os.environ)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(keys=[KEY], timeline=FAST)
    with server:
        yield server


@pytest.fixture
def api_env(
    env: dict[str, str], sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The environment pointed at this test's sandbox with a valid key (also set in-process)."""
    monkeypatch.setenv("RUNWAYML_BASE_URL", sandbox.base_url)
    monkeypatch.setenv("RUNWAYML_API_SECRET", KEY)
    return dict(os.environ)


@contextlib.contextmanager
def _cwd(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


CliRun = Callable[..., Result]


class _Broken(io.RawIOBase):
    """A stream whose every write fails as a broken one does in a real process: ``OSError``
    with ENOSPC for ``>/dev/full``, ``BrokenPipeError`` for a reader that went away."""

    def __init__(self, errno_: int) -> None:
        self.errno: int | None = errno_

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.errno is None:  # the run is over: let the wrapper close quietly
            return len(data)
        cls = BrokenPipeError if self.errno == errno.EPIPE else OSError
        raise cls(self.errno, os.strerror(self.errno))


def _broken_text(errno_: int) -> tuple[io.TextIOWrapper, _Broken]:
    raw = _Broken(errno_)
    return io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8"), raw


@pytest.fixture
def cli() -> CliRun:
    """Run a command in-process: ``cli("generate", "a fox", input=..., env=..., cwd=...)``.

    Goes through ``runway_cli.cli.run`` (the entry point minus the process set-up) inside
    CliRunner's stream isolation. ``env`` is the whole environment for the run (names missing
    from it are unset), as with a subprocess. An exception that escapes is a bug: re-raised.

    Streams can be broken as a shell breaks them, at the level Python sees: ``stdout_errno``
    / ``stderr_errno`` make every write fail with that errno (``errno.ENOSPC`` is
    ``>/dev/full``, ``errno.EPIPE`` a reader that left), and ``stdin_closed`` starts with
    ``sys.stdin`` None (as CPython does under ``<&-``). What only a process shows (closed
    descriptors reused, the interpreter's last flush, exit statuses) stays with ``run``.
    """
    from typer.testing import CliRunner

    from runway_cli.cli import run as run_cli

    def _cli(
        *args: str,
        env: dict[str, str] | None = None,
        input: str | bytes | None = None,
        cwd: Path | None = None,
        timeout: float | None = None,  # accepted for symmetry with run(); in-process: unused
        stdout_errno: int | None = None,
        stderr_errno: int | None = None,
        stdin_closed: bool = False,
    ) -> Result:
        overrides: dict[str, str | None] = {}
        if env is not None:
            overrides = {k: None for k in os.environ if k not in env}
            overrides.update(env)
        runner = CliRunner()
        broken: list[tuple[io.TextIOWrapper, _Broken]] = []
        with _cwd(cwd), runner.isolation(input=input, env=overrides) as streams:
            # isolation() puts its own streams back when it ends, whatever is set here; they
            # are kept referenced meanwhile (a wrapper that is let go closes its buffer)
            isolated = (sys.stdin, sys.stdout, sys.stderr)
            if stdout_errno is not None:
                broken.append(_broken_text(stdout_errno))
                sys.stdout = broken[-1][0]
            if stderr_errno is not None:
                broken.append(_broken_text(stderr_errno))
                sys.stderr = broken[-1][0]
            if stdin_closed:
                sys.stdin = None  # type: ignore[assignment]
            try:
                code = run_cli(list(args))
            except SystemExit as exc:  # shell completion exits from inside click
                code = exc.code if isinstance(exc.code, int) else 0
            finally:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(OSError):
                        stream.flush()
                for wrapper, raw in broken:
                    raw.errno = None
                    wrapper.close()
            stdout = streams[0].getvalue().decode("utf-8", "replace")
            stderr = streams[1].getvalue().decode("utf-8", "replace")
            del isolated
        return check_clean(Result(code, stdout, stderr, args))

    return _cli


@pytest.fixture
def run(workdir: Path, env: dict[str, str]) -> CliRun:
    """Run ``python -m runway_cli`` in a subprocess (the process itself is under test)."""

    def _run(
        *args: str,
        env: dict[str, str] | None = None,
        input: str | None = None,
        timeout: float = 60,
        cwd: Path | None = None,
    ) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "runway_cli", *args],
            env=env if env is not None else dict(os.environ),
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            cwd=cwd or workdir,
            check=False,
        )
        return check_clean(Result(proc.returncode, proc.stdout, proc.stderr, args))

    return _run


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
