"""Where the process itself is under test, so each test runs the CLI as a real process:
signals (Ctrl-C and SIGTERM while creating, waiting or downloading), a pseudo-terminal (the
spinner, the upload bar, the hidden key prompt), the entry points (`python -m runway_cli`, the
installed `runway-img` script, the `--version` fast path), and `runway-img sandbox` serving in
the foreground until Ctrl-C. Everything else runs in-process (see conftest.cli)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import termios
from pathlib import Path

import pytest
import requests

from runway_cli import __version__
from runway_cli.sandbox import FaultRule
from tests.conftest import KEY, spawn
from tests.helpers import (
    CREATE,
    FILES,
    UUID,
    api_headers,
    files_in,
    history,
    stored_credentials,
    wait_until,
    write_big_png,
)
from tests.hostile_support import run_with_stderr_on_pty

# -- signals -----------------------------------------------------------------------------------


def _stop(proc: subprocess.Popen[str], sig: signal.Signals) -> tuple[str, str]:
    try:
        proc.send_signal(sig)
        return proc.communicate(timeout=20)
    finally:
        proc.kill()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_while_waiting_prints_resume_and_exits_130(api_env, workdir, sandbox, sig):
    proc = spawn(["generate", "a fox [sandbox:hang]", "-o", "fox.png"], api_env, workdir)
    # inside the wait loop once the task is being polled
    wait_until(lambda: sandbox.count("GET", "/v1/tasks/") > 0 or proc.poll() is not None)
    task_id = next(e["path"] for e in sandbox.requests if e["method"] == "GET").rsplit("/", 1)[1]
    out, err = _stop(proc, sig)
    assert proc.returncode == 130, err
    assert f"runway-img download {task_id} -o fox.png" in err
    assert "Traceback" not in err
    assert out == ""
    assert files_in(workdir) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_during_download_removes_temp_file(api_env, sandbox, workdir, sig):
    sandbox.faults.add(FaultRule(action="slow_body", delay=0.2, method="GET", path=FILES))
    proc = spawn(["generate", "a fox", "-o", "fox.png"], api_env, workdir)
    wait_until(
        lambda: any(p.name.endswith(".part") for p in workdir.iterdir()) or proc.poll() is not None,
        what="the download to start",
    )
    out, err = _stop(proc, sig)
    assert proc.returncode == 130, err
    assert "Download interrupted" in err and "runway-img download" in err
    assert "Traceback" not in err
    assert out == ""
    assert files_in(workdir) == []  # neither fox.png nor the hidden .part file


def test_interrupt_during_create_records_an_unknown_entry(cli, api_env, sandbox, workdir):
    sandbox.faults.add(FaultRule(action="delay", delay=3.0, method="POST", path=CREATE))
    proc = spawn(["generate", "a slow fox"], api_env, workdir)
    # the create is in flight once the sandbox thread is inside the delay
    wait_until(lambda: sandbox.faults_taken() or proc.poll() is not None, what="the create")
    _, err = _stop(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "it may have been created" in err
    entry = history(cli, api_env)[0]
    assert entry["status"] == "UNKNOWN" and entry["note"] == "interrupted while creating"


# -- a pseudo-terminal -------------------------------------------------------------------------


def _run_on_tty(args: list[str], api_env: dict[str, str], workdir: Path) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal; return (code, stdout, terminal text)."""
    env = {**api_env, "TERM": "xterm-256color", "COLUMNS": "160"}
    env.pop("NO_COLOR", None)
    code, screen, out = run_with_stderr_on_pty(args, env, workdir)
    return code, out.decode(), screen.decode("utf-8", "replace")


def test_terminal_shows_upload_bar_and_spinner_but_stdout_stays_data(api_env, workdir):
    big = write_big_png(workdir)
    code, out, screen = _run_on_tty(
        ["generate", "a fox", "--ref", big, "-o", "tty.png"], api_env, workdir
    )
    assert code == 0, screen
    assert out == "tty.png\n"  # stdout stays clean data even with live displays
    assert re.search(r"Uploading big\.png.*\d+(\.\d+)?/\d+(\.\d+)? MB", screen), screen
    assert re.search(rf"Generating · task {UUID}", screen), screen
    assert "\x1b[" in screen  # live display control sequences on the terminal only


def _controlling_tty() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_login_on_a_terminal_prompts_without_echo(env, sandbox, home):
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "runway_cli", "auth", "login"],
        env={**env, "RUNWAYML_BASE_URL": sandbox.base_url, "TERM": "xterm"},
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        preexec_fn=_controlling_tty,  # getpass talks to /dev/tty: make it this pty
    )
    os.close(slave)
    seen = bytearray()

    def prompt_shown() -> bool:
        # getpass turns echo off *before* it writes its prompt: wait for the whole prompt
        seen.extend(os.read(master, 1024))
        return b"(input is hidden): " in seen

    wait_until(prompt_shown, what="the hidden prompt")
    os.write(master, KEY.encode() + b"\r")
    out, _ = proc.communicate(timeout=30)
    try:
        while chunk := os.read(master, 4096):
            seen.extend(chunk)
    except OSError:
        pass
    os.close(master)
    assert proc.returncode == 0, seen.decode()
    assert out == b""  # the prompt is talk, not data
    assert KEY.encode() not in seen  # hidden input: the key is never echoed
    credentials = home / "config" / "runway-img" / "credentials.json"
    assert json.loads(credentials.read_text()) == stored_credentials(KEY)


# -- entry points ------------------------------------------------------------------------------


def test_version_fast_path_and_module_entry(run, env):
    r = run("--version")  # python -m runway_cli
    assert r.code == 0, r
    assert r.stdout == f"runway-img {__version__}\n" and r.stderr == ""
    # answered before the Typer app is built: none of the heavy modules is even imported
    timed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "runway_cli", "--version"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert timed.returncode == 0 and timed.stdout == r.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in timed.stderr.splitlines()}
    assert not imported & {"typer", "rich", "requests"}, sorted(imported)


def test_console_script_is_installed(env):
    exe = shutil.which("runway-img", path=str(Path(sys.executable).parent))
    assert exe, "the runway-img console script is not installed next to this Python"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    assert "generate" in out.stdout and "Exit codes:" in out.stdout


# -- the sandbox served in the foreground --------------------------------------------------------


def test_foreground_sandbox_serves_any_client_with_its_faults_until_ctrl_c(cli, env, workdir):
    rules = workdir.parent / "rules.json"
    rules.write_text(
        json.dumps([{"action": "status", "status": 503, "method": "POST", "path": CREATE}])
    )
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "runway_cli", "sandbox", "--port", "0", "--key", KEY,
            "--task-seconds", "0.3", "--state", str(workdir.parent / "fg.sqlite3"),
            "--faults", str(rules),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        # it prints the two lines to export, then serves
        exports = dict(
            proc.stdout.readline().removeprefix("export ").strip().split("=", 1) for _ in range(2)
        )
        base = exports["RUNWAYML_BASE_URL"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base), exports
        assert exports["RUNWAYML_API_SECRET"] == KEY
        # any HTTP client can use it, and it checks the key
        bad = requests.get(
            f"{base}/v1/organization", headers={"Authorization": "Bearer nope"}, timeout=5
        )
        assert bad.status_code == 401
        gen = cli(
            "generate", "a fox", "-o", "fg.png", "-v",
            env={**env, "RUNWAYML_BASE_URL": base, "RUNWAYML_API_SECRET": KEY},
        )  # fmt: skip
        assert gen.code == 0, gen
        assert (workdir / "fg.png").read_bytes().startswith(b"\x89PNG")
        assert "POST /v1/text_to_image -> 503" in gen.stderr  # the injected fault, then a retry
        log = requests.get(f"{base}/_sandbox/requests", headers=api_headers(KEY), timeout=5).json()
        assert [e["status"] for e in log if e["path"] == CREATE] == [503, 200]
    finally:
        _out, err = _stop(proc, signal.SIGINT)
    assert proc.returncode == 0, err
    assert "Sandbox stopped" in err
    assert "Traceback" not in err
