"""The sandbox as a library and a pytest fixture (issue 9), and ``runway-img sandbox``'s limits.

- ``Sandbox``: the server ``runway-img sandbox`` runs, in a background thread, with a
  constructor for tests (``task_seconds``, ``faults`` as dicts, ``key``, the limits).
- the ``runway_sandbox`` fixture, registered through the ``pytest11`` entry point: checked in a
  separate pytest run, as a user's suite would load it, and for its import cost.
- ``runway-img sandbox --concurrency/--daily-limit/--credits``, and the balance trap of the
  in-process ``--sandbox`` mode (a persistent state file must never leave a spent account).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import requests

from runway_cli.sandbox import FaultRule, Sandbox, SandboxServer
from tests.conftest import KEY, CliRun
from tests.helpers import CREATE, api_headers, error_line, wait_until

BODY = {"model": "gen4_image", "promptText": "a fox", "ratio": "720:720"}


# -- the Python API ----------------------------------------------------------------------------------


def test_sandbox_serves_the_api_with_its_faults_in_a_background_thread() -> None:
    rule = {"action": "status", "status": 503, "method": "POST", "path": CREATE}
    with Sandbox(task_seconds=0.2, faults=[rule], key=KEY) as sb:
        assert sb.url == sb.base_url and sb.url.startswith("http://127.0.0.1:")
        assert sb.key == KEY

        def post() -> requests.Response:
            return requests.post(sb.url + CREATE, json=BODY, headers=api_headers(KEY), timeout=5)

        assert post().status_code == 503
        created = post()
        assert created.status_code == 200
        url = f"{sb.url}/v1/tasks/{created.json()['id']}"

        def done() -> bool:
            return (
                requests.get(url, headers=api_headers(KEY), timeout=5).json()["status"]
                == "SUCCEEDED"
            )

        wait_until(done, timeout=10, what="the 0.2 s task")
        assert sb.count("POST", CREATE) == 2
        assert [e["status"] for e in sb.requests if e["path"] == CREATE] == [503, 200]
        assert sb.organization()["creditBalance"] == 10_000 - 5
    with pytest.raises(requests.ConnectionError):
        requests.get(url, headers=api_headers(KEY), timeout=5)  # stopped with the block


def test_sandbox_takes_the_limits_and_faults_added_later() -> None:
    with Sandbox(concurrency=None, daily_limit=1, credits=7, key=KEY) as sb:
        org = sb.organization()
        assert org["creditBalance"] == 7
        assert org["tier"]["models"]["gen4_image"] == {
            "maxConcurrentGenerations": None, "maxDailyGenerations": 1,
        }  # fmt: skip
        sb.add_fault(action="status", status=429, path="/v1/organization")
        sb.add_fault(FaultRule(action="status", status=500, path="/v1/organization"))
        sb.add_fault({"action": "status", "status": 502, "path": "/v1/organization"})
        statuses = [
            requests.get(
                f"{sb.url}/v1/organization", headers=api_headers(KEY), timeout=5
            ).status_code
            for _ in range(4)
        ]
        assert statuses == [429, 500, 502, 200]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"faults": [{"action": "status", "status": 99}]}, "not an HTTP status"),
        ({"faults": [{"action": "nope"}]}, "unknown fault action"),
        ({"task_seconds": 0}, "task_seconds"),
        ({"task_seconds": float("nan")}, "task_seconds"),
        ({"credits": -1}, "credits"),
        ({"key": ""}, "key"),
        ({"key": "key with spaces"}, "key"),
        ({"max_connections": 0}, "max_connections"),
        ({"idle_timeout": 0}, "idle_timeout"),
    ],
)
def test_sandbox_refuses_bad_options_before_listening(
    options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        Sandbox(**options)


# -- the pytest plugin -------------------------------------------------------------------------------


def test_the_plugin_module_imports_only_what_pytest_already_loaded() -> None:
    """It is loaded in every pytest run of everyone who installs runway-img."""
    script = (
        "import sys, pytest; before = set(sys.modules); import runway_cli.pytest_plugin; "
        "print(sorted(set(sys.modules) - before))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert json.loads(out.replace("'", '"')) == ["runway_cli", "runway_cli.pytest_plugin"]


def test_the_plugin_is_registered_through_the_entry_point() -> None:
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "runway_sandbox"]
    assert entry.value == "runway_cli.pytest_plugin"


USER_SUITE = """
import json, os, urllib.request

import pytest


def get(sandbox, path):
    request = urllib.request.Request(
        sandbox.url + path,
        headers={"Authorization": "Bearer " + sandbox.key, "X-Runway-Version": "2024-11-06"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def test_default(runway_sandbox):
    assert get(runway_sandbox, "/v1/organization")["creditBalance"] == 10000


@pytest.mark.runway_sandbox(credits=42, task_seconds=0.1)
def test_marker_options(runway_sandbox):
    assert get(runway_sandbox, "/v1/organization")["creditBalance"] == 42


def test_env(runway_sandbox_env):
    assert os.environ["RUNWAYML_BASE_URL"] == runway_sandbox_env.url
    assert os.environ["RUNWAYML_API_SECRET"] == runway_sandbox_env.key
"""


# Plugins that slow a child pytest down and have nothing to do with this (blocking an absent one
# is harmless); runway_sandbox itself still comes from its entry point.
NO_OTHER_PLUGINS = [
    f"-pno:{name}" for name in ("cacheprovider", "hypothesispytest", "anyio", "xdist", "timeout")
]


def test_a_users_suite_gets_the_fixture_without_any_set_up(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text(textwrap.dedent(USER_SUITE))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--strict-markers", *NO_OTHER_PLUGINS],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


# -- `runway-img sandbox` limits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--concurrency=-1"], "--concurrency must be a whole number >= 0 or none"),
        (["--concurrency", "two"], "--concurrency must be"),
        (["--daily-limit", "1.5"], "--daily-limit must be a whole number >= 0 or none"),
        (["--credits", "none"], "--credits must be a whole number >= 0, not 'none'"),
        (["--credits", "-5"], "--credits must be"),
        (["--credits", "9" * 20], "--credits must be"),
    ],
)
def test_sandbox_command_refuses_bad_limits(
    cli: CliRun, env: dict[str, str], args: list[str], needle: str
) -> None:
    r = cli("sandbox", "--port", "0", *args, env=env)
    assert r.code == 2, r
    assert needle in error_line(r.stderr)
    assert r.stdout == ""


def test_sandbox_command_serves_with_the_limits_given(
    cli: CliRun, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def serve_once(server: SandboxServer) -> None:
        seen["org"] = server.account.organization()
        raise KeyboardInterrupt  # what Ctrl-C does to the foreground server

    monkeypatch.setattr(SandboxServer, "serve_forever", serve_once)
    r = cli(
        "sandbox", "--port", "0", "--concurrency", "none", "--daily-limit", "3",
        "--credits", "42", "--key", "key_" + "5e" * 64, "--json", env=env,
    )  # fmt: skip
    assert r.code == 0, r
    assert seen["org"]["creditBalance"] == 42
    assert seen["org"]["tier"]["models"]["gen4_image"] == {
        "maxConcurrentGenerations": None, "maxDailyGenerations": 3,
    }  # fmt: skip
    assert "Sandbox stopped" in r.stderr


# -- the balance trap --------------------------------------------------------------------------------


def test_a_spent_account_in_the_state_file_never_traps_the_in_process_sandbox(
    cli: CliRun, env: dict[str, str], home: Path, workdir: Path
) -> None:
    """``--sandbox`` keeps tasks in a persistent file. Were the balance counted over every task
    it ever held, 10,000 credits would be gone after ~2,000 tasks, for good."""
    state = home / "cache" / "runway-img" / "sandbox.sqlite3"
    earlier = SandboxServer.for_cli(task_seconds=0.3, state_path=state)
    earlier.store.create(
        model="gen4_image", body=BODY, width=720, height=720, outputs=1, fmt="png",
        credits=10_000,
    )  # fmt: skip
    assert earlier.account.balance() == 0  # that run spent everything
    earlier.stop()
    r = cli("generate", "a fox", "-o", "fox.png", "--sandbox", env=env)
    assert r.code == 0, r
    assert (workdir / "fox.png").read_bytes().startswith(b"\x89PNG")
    org = cli("credits", "--sandbox", "--json", env=env)
    if org.code == 0:  # the credits command, where present, shows this run's full balance
        assert json.loads(org.stdout)["creditBalance"] == 10_000
