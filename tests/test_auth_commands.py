"""auth login / status / logout and key precedence, against the sandbox over real HTTP."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.conftest import KEY


def _cred_file(home: Path) -> Path:
    return home / "config" / "runway-img" / "credentials.json"


def test_login_from_stdin_stores_key_privately_then_generate_uses_it(run, env, sandbox, home):
    base = {**env, "RUNWAYML_BASE_URL": sandbox.base_url}
    r = run("auth", "login", "--with-token", env=base, input=KEY + "\n")
    assert r.code == 0, r
    path = _cred_file(home)
    assert json.loads(path.read_text()) == {"api_key": KEY}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sandbox.count("GET", "/v1/organization") == 1  # the key was checked first

    g = run("generate", "a fox", "-o", "fox.png", env=base)
    assert g.code == 0, g

    s = run("auth", "status", env=base)
    assert s.code == 0, s
    assert f"(from {path})" in s.stdout
    assert "Valid:   yes" in s.stdout
    assert "key_…abab" in s.stdout or "key_…ab12" in s.stdout

    o = run("auth", "logout", env=base)
    assert o.code == 0 and not path.exists()
    n = run("auth", "status", env=base)
    assert n.code == 3 and "No Runway API key found" in n.stderr


def test_login_reads_stdin_when_not_a_tty_even_without_flag(run, env, sandbox, home):
    r = run("auth", "login", env={**env, "RUNWAYML_BASE_URL": sandbox.base_url}, input=KEY)
    assert r.code == 0, r
    assert _cred_file(home).exists()


def test_login_with_rejected_key_stores_nothing(run, env, sandbox, home):
    r = run("auth", "login", env={**env, "RUNWAYML_BASE_URL": sandbox.base_url}, input="key_nope\n")
    assert r.code == 3, r
    assert "was not stored" in r.stderr
    assert not _cred_file(home).exists()


def test_login_refuses_key_with_inner_whitespace(run, env, sandbox, home):
    r = run("auth", "login", env={**env, "RUNWAYML_BASE_URL": sandbox.base_url}, input="key_a b\n")
    assert r.code == 2, r
    assert not _cred_file(home).exists()
    assert sandbox.requests == []


def test_status_reports_env_source_masked_and_json(run, api_env):
    r = run("auth", "status", "--json", env=api_env)
    assert r.code == 0, r
    info = json.loads(r.stdout)
    assert info["source"] == "RUNWAYML_API_SECRET"
    assert info["valid"] is True
    assert info["key"] == "key_…ab12"


def test_flag_beats_env_beats_file(run, env, sandbox, home):
    base = {**env, "RUNWAYML_BASE_URL": sandbox.base_url}
    run("auth", "login", "--with-token", env=base, input=KEY)
    # env (bad) beats the file (good)
    r = run("auth", "status", env={**base, "RUNWAYML_API_SECRET": "key_bad_env"})
    assert r.code == 3 and "RUNWAYML_API_SECRET was rejected" in r.stderr
    # flag (good) beats env (bad)
    r = run("auth", "status", "--api-key", KEY, env={**base, "RUNWAYML_API_SECRET": "key_bad"})
    assert r.code == 0 and "(from --api-key)" in r.stdout


def test_loose_permissions_are_tightened_with_a_warning(run, env, sandbox, home):
    base = {**env, "RUNWAYML_BASE_URL": sandbox.base_url}
    run("auth", "login", "--with-token", env=base, input=KEY)
    path = _cred_file(home)
    path.chmod(0o644)
    r = run("auth", "status", env=base)
    assert r.code == 0, r
    assert "changed it to 0600" in r.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _controlling_tty() -> None:
    import fcntl
    import os
    import termios

    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_login_on_a_terminal_prompts_without_echo(env, sandbox, home):
    import os
    import subprocess
    import sys
    import time

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
    seen = b""
    deadline = time.monotonic() + 20
    # getpass turns echo off *before* it writes its prompt: wait for the whole prompt
    while b"(input is hidden): " not in seen and time.monotonic() < deadline:
        seen += os.read(master, 1024)
    os.write(master, KEY.encode() + b"\r")
    out, _ = proc.communicate(timeout=30)
    rest = b""
    try:
        while chunk := os.read(master, 4096):
            rest += chunk
    except OSError:
        pass
    os.close(master)
    assert proc.returncode == 0, (seen + rest).decode()
    assert out == b""  # the prompt is talk, not data
    assert KEY.encode() not in seen + rest  # hidden input: the key is never echoed
    assert json.loads(_cred_file(home).read_text()) == {"api_key": KEY}
