"""Signals and terminals: Ctrl-C while waiting, SIGTERM, and the spinner on a real TTY."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import spawn

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _wait_for_line(stream, pattern: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        m = re.search(pattern, line)
        if m:
            return m.group(0)
    raise AssertionError(f"never saw {pattern!r}: {seen!r}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_while_waiting_prints_resume_and_exits_130(api_env, workdir, sandbox, sig):
    proc = spawn(["generate", "a fox [sandbox:hang]", "-o", "fox.png"], api_env, workdir)
    try:
        # wait until the task is being polled, i.e. we are inside the wait loop
        task_id = _wait_for_line(proc.stderr, UUID)
        deadline = time.monotonic() + 20
        while sandbox.count("GET", f"/v1/tasks/{task_id}") == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert f"runway-img download {task_id} -o fox.png" in err
    assert "Traceback" not in err
    assert out == ""
    assert not (workdir / "fox.png").exists()


def _run_on_tty(args, api_env, workdir):
    """Run the CLI with stderr on a pseudo-terminal; return (code, stdout, terminal text)."""
    master, slave = os.openpty()
    env = {**api_env, "TERM": "xterm-256color", "COLUMNS": "160"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "runway_cli", *args],
        env=env,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
    )
    os.close(slave)
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
    out, _ = proc.communicate(timeout=60)
    reader.join(timeout=5)
    os.close(master)
    return proc.returncode, out.decode(), b"".join(chunks).decode("utf-8", "replace")


def test_spinner_on_a_tty_shows_task_and_state(api_env, workdir):
    code, out, screen = _run_on_tty(["generate", "a fox", "-o", "tty.png"], api_env, workdir)
    assert code == 0, screen
    assert out == "tty.png\n"  # stdout stays clean data even with a spinner
    assert re.search(rf"Generating · task {UUID}", screen), screen
    assert "\x1b[" in screen  # live display control sequences on the terminal only


def test_upload_progress_bar_on_a_tty(api_env, workdir):
    from runway_cli.sandbox.images import make_png

    (workdir / "big.png").write_bytes(make_png("big", 2048, 2048))
    args = ["generate", "a fox", "--ref", "big.png", "-o", "u.png"]
    code, out, screen = _run_on_tty(args, api_env, workdir)
    assert code == 0, screen
    assert out == "u.png\n"
    assert re.search(r"Uploading big\.png.*\d+(\.\d+)?/\d+(\.\d+)? MB", screen), screen
