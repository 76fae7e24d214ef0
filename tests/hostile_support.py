"""Helpers for the hostile-environment tests (tests/test_hostile_*.py): a shell to break the
process's streams with, a folder an unprivileged user can use, a file host that misbehaves in
ways the sandbox does not, and a tiny terminal to read what a pseudo-terminal showed."""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from runway_cli.sandbox import FaultRule, SandboxServer, Timeline
from tests.conftest import KEY, Result, check_clean

# The CLI as a shell word list, for `bash -c` scripts that close or redirect its streams.
RW = f"{shlex.quote(sys.executable)} -m runway_cli"
NOBODY = 65534  # uid and gid of `nobody`: CI runs as root, so "another user" is this one
# The CLI as nobody (see run_as_nobody.py for why not simply subprocess's user=65534).
RW_NOBODY = f"{shlex.quote(sys.executable)} -P {shlex.quote(str(Path(__file__).with_name('run_as_nobody.py')))}"
as_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="runs the CLI as another user, which needs root (as in CI)"
)


# Tasks end quickly here: these tests are about what surrounds the wait, not the wait.
QUICK = Timeline(pending=0.01, running=0.05)


@pytest.fixture
def quick_sandbox() -> Iterator[SandboxServer]:
    """A sandbox whose tasks succeed within a tenth of a second (use as ``sandbox``)."""
    with SandboxServer(keys=[KEY], timeline=QUICK) as server:
        yield server


def shell(
    script: str,
    *,
    env: dict[str, str],
    cwd: Path,
    timeout: float = 30,
    nobody: bool = False,
    stdin: int | None = subprocess.DEVNULL,
) -> Result:
    """Run ``bash -c script`` (with ``$RW`` the CLI, run as ``nobody`` if asked); its stdout
    and stderr as text."""
    proc = subprocess.run(
        ["bash", "-c", script],
        env={**env, "RW": RW_NOBODY if nobody else RW, "PYTHONDONTWRITEBYTECODE": "1"},
        cwd=cwd,
        stdin=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    return check_clean(Result(proc.returncode, out, err, ("bash", "-c", script)))


_READ_SYSCALL = {"x86_64": "0", "aarch64": "63"}


def blocked_reading_a_pipe(pid: int) -> bool:
    """The process's main thread is inside read() on a pipe or FIFO. A signal sent any
    earlier can land between Python's last check and the system call, and then wait for the
    read to end (a CPython race, not the CLI's): tests that interrupt a read wait for this."""
    import platform

    try:
        wchan = Path(f"/proc/{pid}/wchan").read_text().strip()
        if wchan and wchan != "0":
            return wchan.endswith(("pipe_read", "pipe_wait"))
        call = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return False
    return bool(call) and call[0] == _READ_SYSCALL.get(platform.machine())


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@contextlib.contextmanager
def nobody_home(env: dict[str, str]) -> Iterator[tuple[Path, dict[str, str]]]:
    """A home that uid 65534 can enter and write (config, cache, data, work), in a folder
    outside pytest's private tmp (which only root can enter); its environment."""
    root = Path(tempfile.mkdtemp(prefix="runway-hostile-"))
    try:
        root.chmod(0o755)
        for sub in ("config", "cache", "data", "work"):
            (root / sub).mkdir()
            os.chown(root / sub, NOBODY, NOBODY)
        os.chown(root, NOBODY, NOBODY)
        yield (
            root,
            {
                **env,
                "HOME": str(root),
                "XDG_CONFIG_HOME": str(root / "config"),
                "XDG_CACHE_HOME": str(root / "cache"),
                "XDG_DATA_HOME": str(root / "data"),
            },
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


# -- a file host of our own --------------------------------------------------------------------


class FileHost:
    """An HTTP/1.0 server on 127.0.0.1 answering each path with a fixed status and body, and
    without a Content-Length: the body ends when the connection closes (as some CDNs and
    proxies do), so only the bytes can tell a cut download from a whole one."""

    def __init__(self, routes: dict[str, tuple[int, str, bytes]]) -> None:
        self.routes = routes
        self.hits: list[str] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                host.hits.append(self.path)
                status, ctype, body = host.routes.get(
                    self.path.split("?")[0], (404, "text/html", b"<html>Not Found</html>")
                )
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self) -> FileHost:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- a terminal, just enough of one ------------------------------------------------------------

_CSI = re.compile(rb"\x1b\[([0-9;?]*)([A-Za-z])|\x1b[()][A-Za-z0-9]|\x1b[=>78]")


class _Terminal:
    def __init__(self) -> None:
        self.lines: list[list[str]] = [[]]
        self.row = self.col = 0

    def control(self, arg: str, op: str) -> None:
        if op == "A":
            self.row = max(0, self.row - int(arg or 1))
        elif op == "G":
            self.col = max(0, int(arg or 1) - 1)
        elif op == "K" and arg == "2":
            self.lines[self.row] = []
        elif op == "K" and arg in ("", "0"):
            del self.lines[self.row][self.col :]

    def newline(self) -> None:
        self.row += 1
        self.col = 0
        while len(self.lines) <= self.row:
            self.lines.append([])

    def put(self, ch: str) -> None:
        line = self.lines[self.row]
        line.extend(" " * (self.col - len(line)))
        if self.col < len(line):
            line[self.col] = ch
        else:
            line.append(ch)
        self.col += 1


def screen(raw: bytes) -> list[str]:
    """The lines a terminal shows after ``raw``: text, CR, LF, cursor up (``CSI n A``) and
    erase line (``CSI 2K`` / ``CSI K``). Enough for Rich's live display, which redraws by
    moving up and erasing; what it erases is gone, what it prints above stays."""
    term = _Terminal()
    pos = 0
    while pos < len(raw):
        match = _CSI.match(raw, pos)
        if match:
            pos = match.end()
            if match.group(2) is not None:
                term.control(match.group(1).decode(), match.group(2).decode())
            continue
        byte = raw[pos]
        if byte == 0x0D:
            term.col = 0
        elif byte == 0x0A:
            term.newline()
        if byte < 0x20 or byte == 0x1B:
            pos += 1
            continue
        end = pos + 1  # one UTF-8 character
        while end < len(raw) and 0x80 <= raw[end] < 0xC0:
            end += 1
        term.put(raw[pos:end].decode("utf-8", "replace"))
        pos = end
    return ["".join(line).rstrip() for line in term.lines]


def run_with_stderr_on_pty(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> tuple[int, bytes, bytes]:
    """``python -m runway_cli ARGS`` with stderr on a fresh pseudo-terminal (stdout a pipe,
    stdin /dev/null): (exit code, what the terminal showed, stdout)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "runway_cli", *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    try:
        shown, out = read_pty_until_exit(master, proc, timeout)
    finally:
        os.close(master)
    return proc.returncode, shown, out


def read_pty_until_exit(
    master: int, proc: subprocess.Popen[bytes], timeout: float
) -> tuple[bytes, bytes]:
    """Everything the pseudo-terminal showed while ``proc`` ran, and its stdout."""
    chunks: list[bytes] = []

    def pump() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=timeout)
    reader.join(timeout=5)
    return b"".join(chunks), out or b""


__all__ = [
    "KEY",
    "NOBODY",
    "RW",
    "FileHost",
    "as_root",
    "blocked_reading_a_pipe",
    "error_lines",
    "nobody_home",
    "read_pty_until_exit",
    "screen",
    "shell",
]


def files_no_bigger_than(limit: int) -> Callable[[], None]:
    """A ``preexec_fn``: the child may write files of ``limit`` bytes at most (``ulimit -f``),
    each longer write cut short with EFBIG, not a kill: a disk that fills up."""

    def limit_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_files


def serve_succeeded_task(sandbox: SandboxServer, task_id: str, url: str) -> None:
    """Every read of the task says it succeeded with one output at ``url``."""
    task = {"id": task_id, "status": "SUCCEEDED", "createdAt": "2025-01-01T00:00:00Z"}
    sandbox.faults.add(
        FaultRule(
            action="body",
            method="GET",
            path=f"/v1/tasks/{task_id}",
            times=None,
            body={**task, "output": [url]},
        )
    )
