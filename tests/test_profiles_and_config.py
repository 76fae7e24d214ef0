"""Profiles and their defaults, end to end against a sandbox that accepts several keys.

Which key a command used is read from the sandbox's side: before each run the sandbox is made
to accept only the key that should win, so a run that succeeds sent that key and no other.
``auth status`` must name the same key (masked), its source and the profile in use."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runway_cli.credentials import store_key
from runway_cli.sandbox import SandboxServer
from tests.conftest import FAST, KEY, Result
from tests.helpers import CREATE, error_line, task_id_from

SMALL = ("-m", "gemini_image3.1_flash", "-r", "512:512")
# One key per source, each recognisable by its masked form (key_…1111, key_…2222, ...).
KEYS = {name: "key_" + digit * 128 for name, digit in zip(
    ("flag", "flagp", "env", "envp", "cur", "default", "work", "local"), "12345678", strict=True
)}  # fmt: skip
ALL_KEYS = [*KEYS.values(), KEY]


def masked(name: str) -> str:
    return f"key_…{KEYS[name][-4:]}"


@pytest.fixture
def multi() -> Iterator[SandboxServer]:
    """A sandbox that accepts every key of this file (until a test narrows it down)."""
    with SandboxServer(keys=ALL_KEYS, timeline=FAST) as server:
        yield server


@pytest.fixture
def cmd(cli, env: dict[str, str]):
    """``cli`` with no key and no base URL in the environment unless given, checked for every
    key (not only the suite's) in its output."""
    clean = {k: v for k, v in env.items() if k not in ("RUNWAYML_API_SECRET", "RUNWAYML_BASE_URL")}

    def _run(*args: str, input: str | None = None, **extra: str) -> Result:
        r = cli(*args, env={**clean, **extra}, input=input)
        for key in ALL_KEYS:
            assert key not in r.stdout and key not in r.stderr, f"a key leaked: {r!r}"
        return r

    return _run


def _config_dir(home: Path) -> Path:
    return home / "config" / "runway-img"


def _accepting(sandbox: SandboxServer, name: str) -> None:
    sandbox.keys = {KEYS[name]}  # from now on, any other key is answered 401


def _last_create(sandbox: SandboxServer) -> dict[str, Any]:
    creates = [e for e in sandbox.request_log() if e["method"] == "POST" and e["path"] == CREATE]
    assert creates, sandbox.request_log()
    return dict(creates[-1]["json"])


# -- login, list, use, logout, and --profile / RUNWAY_IMG_PROFILE on commands -----------------


def test_profiles_from_login_to_logout(cmd, multi, home, workdir):
    url = multi.base_url
    r = cmd("auth", "login", "--profile", "work", "--base-url", url, input=KEYS["work"] + "\n")
    assert r.code == 0, r
    assert f"Key accepted by {url}" in r.stderr
    assert multi.count("GET", "/v1/organization") == 1  # checked before it was stored
    r = cmd("auth", "login", "--profile", "oops", "--base-url", url, input="key_" + "f" * 128)
    assert r.code == 3 and "it was not stored" in error_line(r.stderr), r
    r = cmd("auth", "login", "--profile", "local", "--base-url", url, input=KEYS["local"])
    assert r.code == 0, r
    stored = json.loads((_config_dir(home) / "credentials.json").read_text())
    assert stored == {"profiles": {p: {"api_key": KEYS[p]} for p in ("local", "work")}}
    config = json.loads((_config_dir(home) / "config.json").read_text())
    assert config["profiles"] == {"local": {"base-url": url}, "work": {"base-url": url}}

    listed = cmd("auth", "list")
    assert listed.code == 0, listed
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows == [
        ["*", "default", "(no", "key)", "(default", "API)"],
        ["local", masked("local"), url],
        ["work", masked("work"), url],
    ]

    assert cmd("auth", "use", "work").code == 0
    listed = json.loads(cmd("auth", "list", "--json").stdout)
    assert listed["current"] == "work"
    assert [(p["name"], p["current"], p["key"]) for p in listed["profiles"]] == [
        ("local", False, masked("local")),  # default (no key, no settings) is not current now
        ("work", True, masked("work")),
    ]

    # the current profile's key and base URL, with nothing in the environment
    _accepting(multi, "work")
    made = cmd("generate", "a fox", *SMALL, "-q")
    assert made.code == 0, made
    task_id = task_id_from(made.stdout)
    status = json.loads(cmd("auth", "status", "--json").stdout)
    assert (status["key"], status["profile"], status["profileSource"]) == (
        masked("work"),
        "work",
        "auth use",
    )
    assert status["source"].endswith("credentials.json (work)") and status["valid"] is True

    # --profile and RUNWAY_IMG_PROFILE pick another profile's key for one command
    _accepting(multi, "local")
    assert cmd("status", task_id, "--profile", "local").code == 0
    assert cmd("generate", "a fox", *SMALL, "--no-wait", "--profile", "local").code == 0
    r = cmd("generate", "a fox", *SMALL, "--no-wait", RUNWAY_IMG_PROFILE="local")
    assert r.code == 0, r
    r = cmd("auth", "status", RUNWAY_IMG_PROFILE="local")
    assert r.code == 0, r
    assert f"Key:     {masked('local')} (from RUNWAY_IMG_PROFILE local)" in r.stdout
    assert "Profile: local (RUNWAY_IMG_PROFILE)" in r.stdout
    r = cmd("status", task_id)  # without them, the current profile's key (work's): refused now
    assert r.code == 3, r

    r = cmd("auth", "logout", "--profile", "local")
    assert r.code == 0 and "Removed the stored key of profile local" in r.stderr, r
    stored = json.loads((_config_dir(home) / "credentials.json").read_text())
    assert stored == {"profiles": {"work": {"api_key": KEYS["work"]}}}
    r = cmd("generate", "a fox", *SMALL, "--no-wait", "--profile", "local")
    assert r.code == 3 and "No key stored for profile 'local'" in error_line(r.stderr), r
    rows = [line.split() for line in cmd("auth", "list").stdout.splitlines()]
    assert rows == [["local", "(no", "key)", url], ["*", "work", masked("work"), url]]


# -- the precedence, each level end to end -----------------------------------------------------


@pytest.fixture
def every_source(home: Path) -> dict[str, str]:
    """A key stored for each of four profiles, ``cur`` made current (``auth use``)."""
    creds = _config_dir(home) / "credentials.json"
    for profile in ("flagp", "envp", "cur", "default"):
        store_key(creds, KEYS[profile], profile)
    (_config_dir(home) / "config.json").write_text(json.dumps({"current": "cur", "profiles": {}}))
    return {"credentials": str(creds)}


LADDER = [
    # (arguments, environment, winning key, its source, profile in use, why that profile)
    pytest.param(
        ["--api-key", KEYS["flag"], "--profile", "flagp"],
        {"RUNWAYML_API_SECRET": KEYS["env"], "RUNWAY_IMG_PROFILE": "envp"},
        "flag", "--api-key", "flagp", "--profile", id="1-api-key",
    ),
    pytest.param(
        ["--profile", "flagp"],
        {"RUNWAYML_API_SECRET": KEYS["env"], "RUNWAY_IMG_PROFILE": "envp"},
        "flagp", "--profile flagp", "flagp", "--profile", id="2-profile",
    ),
    pytest.param(
        [],
        {"RUNWAYML_API_SECRET": KEYS["env"], "RUNWAY_IMG_PROFILE": "envp"},
        "env", "RUNWAYML_API_SECRET", "envp", "RUNWAY_IMG_PROFILE", id="3-RUNWAYML_API_SECRET",
    ),
    pytest.param(
        [], {"RUNWAY_IMG_PROFILE": "envp"},
        "envp", "RUNWAY_IMG_PROFILE envp", "envp", "RUNWAY_IMG_PROFILE", id="4-RUNWAY_IMG_PROFILE",
    ),
    pytest.param([], {}, "cur", "{credentials} (cur)", "cur", "auth use", id="5-current"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "variables", "winner", "source", "profile", "why"), LADDER)
def test_key_precedence(cmd, multi, every_source, args, variables, winner, source, profile, why):
    variables = {**variables, "RUNWAYML_BASE_URL": multi.base_url}
    _accepting(multi, winner)
    r = cmd("generate", "a fox", *SMALL, "--no-wait", "-q", *args, **variables)
    assert r.code == 0, r  # the sandbox took the winner's key: no other one was sent
    r = cmd("auth", "status", "--json", *args, **variables)
    assert r.code == 0, r
    status = json.loads(r.stdout)
    assert status["key"] == masked(winner) and status["valid"] is True
    assert status["source"] == source.format(**every_source)
    assert (status["profile"], status["profileSource"]) == (profile, why)


def test_the_default_profile_comes_last(cmd, multi, every_source):
    url = {"RUNWAYML_BASE_URL": multi.base_url}
    assert cmd("auth", "use", "default").code == 0
    _accepting(multi, "default")
    assert cmd("generate", "a fox", *SMALL, "--no-wait", **url).code == 0
    status = json.loads(cmd("auth", "status", "--json", **url).stdout)
    assert status["key"] == masked("default") and status["source"] == every_source["credentials"]
    os.remove(every_source["credentials"])
    r = cmd("generate", "a fox", *SMALL, "--no-wait", **url)
    assert r.code == 3 and "No Runway API key found" in error_line(r.stderr), r


def test_a_key_file_from_before_profiles_still_works(cmd, multi, home):
    folder = _config_dir(home)
    folder.mkdir(mode=0o700)
    creds = folder / "credentials.json"
    creds.write_text(json.dumps({"api_key": KEYS["default"]}))
    creds.chmod(0o600)
    url = {"RUNWAYML_BASE_URL": multi.base_url}
    _accepting(multi, "default")
    r = cmd("generate", "a fox", *SMALL, "--no-wait", **url)
    assert r.code == 0, r
    r = cmd("auth", "status", **url)
    assert r.code == 0, r
    assert f"Key:     {masked('default')} (from {creds})" in r.stdout
    assert "Profile: default (default)" in r.stdout
    # a second profile joins the old key, which stays the default profile's
    assert cmd("auth", "login", "--profile", "work", "--no-verify", input=KEYS["work"]).code == 0
    assert json.loads(creds.read_text()) == {
        "profiles": {"default": {"api_key": KEYS["default"]}, "work": {"api_key": KEYS["work"]}}
    }
    assert cmd("generate", "a fox", *SMALL, "--no-wait", **url).code == 0


# -- config set / unset / list -----------------------------------------------------------------


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_profile_defaults_apply_to_generate_and_flags_win(cmd, multi, workdir):
    key = {"RUNWAYML_API_SECRET": KEYS["default"]}
    (workdir / "renders").mkdir()
    for setting, value in (
        ("model", "gemini_image3.1_flash"),
        ("ratio", "512:512"),
        ("output-dir", "renders"),
        ("base-url", multi.base_url + "/v1"),  # corrected, as everywhere
    ):
        r = cmd("config", "set", setting, value)
        assert r.code == 0, r
    expected = {
        "base-url": multi.base_url,
        "model": "gemini_image3.1_flash",
        "output-dir": str(workdir / "renders"),
        "ratio": "512:512",
    }
    r = cmd("config", "list")
    assert r.stdout.splitlines() == [f"{k} = {v}" for k, v in expected.items()], r
    assert json.loads(cmd("config", "list", "--json").stdout) == {
        "profile": "default",
        "settings": expected,
    }

    r = cmd("generate", "a fox", **key)  # no -m, -r, -o or base URL: all from the profile
    assert r.code == 0, r
    body = _last_create(multi)
    assert (body["model"], body["ratio"]) == ("gemini_image3.1_flash", "512:512")
    saved = Path(r.stdout.strip())
    assert saved.parent == workdir / "renders" and saved.is_file()

    # a profile ratio the chosen model does not take is left out, not sent
    r = cmd("generate", "a fox", "-m", "gen4_image", "--no-wait", **key)
    assert r.code == 0, r
    assert _last_create(multi)["ratio"] == "1280:720"

    assert cmd("config", "set", "base-url", _dead_url()).code == 0
    r = cmd(
        "generate", "a fox", "-m", "gemini_image3_pro", "-r", "1024:1024", "-o", "here.png",
        "--base-url", multi.base_url, **key,
    )  # fmt: skip
    assert r.code == 0, r
    assert r.stdout == "here.png\n" and (workdir / "here.png").is_file()
    body = _last_create(multi)
    assert (body["model"], body["ratio"]) == ("gemini_image3_pro", "1024:1024")

    for setting in expected:
        assert cmd("config", "unset", setting).code == 0
    r = cmd("config", "list", "--json")
    assert json.loads(r.stdout) == {"profile": "default", "settings": {}}
    r = cmd("generate", "a fox", "--no-wait", RUNWAYML_BASE_URL=multi.base_url, **key)
    assert r.code == 0, r
    body = _last_create(multi)
    assert (body["model"], body["ratio"]) == ("gen4_image", "1280:720")  # the built-in defaults


@pytest.mark.parametrize(
    ("setting", "value", "needle"),
    [
        pytest.param("colour", "red", "Unknown setting 'colour'", id="unknown"),
        pytest.param("model", "no_such_model", "not in the model catalog", id="model"),
        pytest.param("ratio", "wide", "Invalid ratio", id="ratio"),
        pytest.param("output-dir", "nowhere", "not an existing folder", id="output-dir"),
        pytest.param("base-url", "ftp://x", "http", id="base-url"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(cmd, home, setting, value, needle):
    r = cmd("config", "set", setting, value)
    assert r.code == 2, r
    assert needle in error_line(r.stderr)
    assert not (_config_dir(home) / "config.json").exists()
