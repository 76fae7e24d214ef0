"""auth login / status / logout and key precedence, against the sandbox over real HTTP."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest

from tests.conftest import KEY
from tests.helpers import error_line, stored_credentials


def _cred_file(home: Path) -> Path:
    return home / "config" / "runway-img" / "credentials.json"


def test_login_from_stdin_stores_key_privately_then_generate_uses_it(cli, env, sandbox, home):
    base = {**env, "RUNWAYML_BASE_URL": sandbox.base_url}
    r = cli("auth", "login", "--with-token", env=base, input=KEY + "\n")
    assert r.code == 0, r
    path = _cred_file(home)
    assert json.loads(path.read_text()) == stored_credentials(KEY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sandbox.count("GET", "/v1/organization") == 1  # the key was checked first

    g = cli("generate", "a fox", "-o", "fox.png", env=base)
    assert g.code == 0, g

    s = cli("auth", "status", env=base)
    assert s.code == 0, s
    assert f"(from {path})" in s.stdout
    assert "Valid:   yes" in s.stdout
    assert "key_…abab" in s.stdout or "key_…ab12" in s.stdout

    o = cli("auth", "logout", env=base)
    assert o.code == 0 and not path.exists()
    n = cli("auth", "status", env=base)
    assert n.code == 3 and "No Runway API key found" in n.stderr


@pytest.mark.parametrize(
    ("args", "typed", "code", "checks", "needle"),
    [
        # stdin that is not a terminal is read even without --with-token
        pytest.param([], KEY, 0, 1, "", id="stdin-without-flag"),
        pytest.param(["--no-verify"], KEY, 0, 0, "", id="no-verify-sends-nothing"),
        pytest.param([], "key_nope\n", 3, 1, "was not stored", id="rejected-key"),
        pytest.param([], "key_a b\n", 3, 0, "whitespace", id="inner-whitespace"),
    ],
)
def test_login_from_stdin(cli, env, sandbox, home, args, typed, code, checks, needle):
    r = cli("auth", "login", *args, env={**env, "RUNWAYML_BASE_URL": sandbox.base_url}, input=typed)
    assert r.code == code, r
    assert sandbox.count("GET", "/v1/organization") == checks == len(sandbox.requests)
    if code == 0:
        assert json.loads(_cred_file(home).read_text()) == stored_credentials(KEY)
    else:
        assert needle in error_line(r.stderr)
        assert not _cred_file(home).exists()


def test_status_reports_env_source_masked_and_json(cli, api_env):
    r = cli("auth", "status", "--json", env=api_env)
    assert r.code == 0, r
    info = json.loads(r.stdout)
    assert info["source"] == "RUNWAYML_API_SECRET"
    assert info["valid"] is True
    assert info["key"] == "key_…ab12"


def test_flag_beats_env_beats_file(cli, env, sandbox, home):
    base = {**env, "RUNWAYML_BASE_URL": sandbox.base_url}
    cli("auth", "login", "--with-token", env=base, input=KEY)
    # env (bad) beats the file (good)
    r = cli("auth", "status", env={**base, "RUNWAYML_API_SECRET": "key_bad_env"})
    assert r.code == 3 and "RUNWAYML_API_SECRET was rejected" in r.stderr
    # flag (good) beats env (bad)
    r = cli("auth", "status", "--api-key", KEY, env={**base, "RUNWAYML_API_SECRET": "key_bad"})
    assert r.code == 0 and "(from --api-key)" in r.stdout


def test_loose_permissions_are_tightened_with_a_warning(cli, env, sandbox, home):
    base = {**env, "RUNWAYML_BASE_URL": sandbox.base_url}
    cli("auth", "login", "--with-token", env=base, input=KEY)
    path = _cred_file(home)
    path.chmod(0o644)
    r = cli("auth", "status", env=base)
    assert r.code == 0, r
    assert "changed it to 0600" in r.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_auth_commands_ignore_the_sandbox_switch(cli, env):
    # the in-process sandbox needs no key, so auth would have nothing to check against it
    r = cli("auth", "status", env={**env, "RUNWAY_IMG_SANDBOX": "1"})
    assert r.code == 3, r
    assert "No Runway API key found" in error_line(r.stderr)


def test_auth_status_shows_the_source_even_when_the_api_is_unreachable(cli, env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = cli(
        "auth",
        "status",
        "--json",
        env={
            **env,
            "RUNWAYML_BASE_URL": f"http://127.0.0.1:{port}",
            "RUNWAYML_API_SECRET": "key_" + "cd" * 64,
        },
    )
    assert r.code == 7, r
    info = json.loads(r.stdout)
    assert info["source"] == "RUNWAYML_API_SECRET" and info["valid"] is None
    assert info["key"] == "key_…cdcd"
