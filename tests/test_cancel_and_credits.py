"""``cancel``, ``--cancel-on-timeout`` and ``credits``, end to end against the sandbox.

cancel: tasks in progress are cancelled and the server forgets them (404 afterwards); a finished
task is deleted only with ``--yes`` or a yes typed on a terminal, and kept (exit 2) otherwise;
an unknown task is already gone (exit 0); every outcome lands in the history, and the refund
sentence is always said. ``--cancel-on-timeout``: the wait's end cancels the task (exit 6), or
says it could not (exit 7) when Runway cannot be reached. credits: the balance, each model's
limits and today's usage, as the account reports them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import requests

from runway_cli.sandbox import FaultRule, SandboxServer, Timeline
from tests.conftest import FAST, KEY
from tests.helpers import SOME_TASK_ID, api_headers, error_line, files_in, task_id_from
from tests.terminal_support import run_on_terminal

SMALL = ("-m", "gemini_image3.1_flash", "-r", "512:512")
REFUNDS = "Refunds depend on the state the server saw when it got the request."


def server_status(sandbox: SandboxServer, task_id: str) -> int:
    """What the server answers for the task now (200, or 404 once cancelled or deleted)."""
    url = f"{sandbox.base_url}/v1/tasks/{task_id}"
    return requests.get(url, headers=api_headers(KEY), timeout=10).status_code


def server_state(sandbox: SandboxServer, task_id: str) -> str:
    url = f"{sandbox.base_url}/v1/tasks/{task_id}"
    return str(requests.get(url, headers=api_headers(KEY), timeout=10).json()["status"])


def _history(cli) -> list[dict]:
    r = cli("history", "--json")
    assert r.code == 0, r
    return list(json.loads(r.stdout)["tasks"])


def _entry(cli, task_id: str) -> dict:
    return next(e for e in _history(cli) if e["id"] == task_id)


def _made(cli, prompt: str, *args: str) -> str:
    r = cli("generate", prompt, *SMALL, *args, "-q")
    assert r.code == 0, r
    return task_id_from(r.stdout)


# -- cancel -------------------------------------------------------------------------------------


class Clock:
    """The sandbox's time, moved by the test: a task is pending or running exactly when asked."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clocked(api_env, clock: Clock, monkeypatch) -> Iterator[SandboxServer]:
    """A sandbox whose tasks are pending for 10 s, then running for 100 s, on the test's
    clock (the environment points at it)."""
    with SandboxServer(keys=[KEY], timeline=Timeline(pending=10, running=100), clock=clock) as sb:
        monkeypatch.setenv("RUNWAYML_BASE_URL", sb.base_url)
        yield sb


def test_cancel_stops_pending_and_running_tasks_and_the_server_forgets_them(cli, clocked, clock):
    running = _made(cli, "a fox", "--no-wait")
    clock.now += 20
    pending = _made(cli, "a hare", "--no-wait")
    assert (server_state(clocked, running), server_state(clocked, pending)) == (
        "RUNNING",
        "PENDING",
    )
    r = cli("cancel", running, pending)
    assert r.code == 0, r
    assert r.stdout == ""
    assert r.stderr.splitlines()[-3:] == [
        f"Cancelled task {running} (it was running).",
        f"Cancelled task {pending} (it was pending).",
        REFUNDS,
    ]
    assert server_status(clocked, running) == server_status(clocked, pending) == 404
    assert _entry(cli, running)["status"] == _entry(cli, pending)["status"] == "CANCELLED"
    assert _entry(cli, running)["note"] == "cancelled while RUNNING"


def test_a_finished_task_is_deleted_only_with_yes_off_a_terminal(cli, api_env, sandbox):
    done = _made(cli, "a fox")
    hung = _made(cli, "a fox [sandbox:hang]", "--no-wait")

    r = cli("cancel", hung, done)  # no question off a terminal: the finished one is kept
    assert r.code == 2, r
    assert "[y/N]" not in r.stderr
    assert re.search(rf"^Cancelled task {hung} \(it was (pending|running)\)\.$", r.stderr, re.M)
    assert f"Kept task {done} (succeeded)" in r.stderr and REFUNDS in r.stderr
    assert f"Not deleted without confirmation: {done}. Pass --yes" in error_line(r.stderr)
    assert server_status(sandbox, hung) == 404 and server_status(sandbox, done) == 200
    assert _entry(cli, done)["status"] == "SUCCEEDED"

    r = cli("cancel", done, "--yes")
    assert r.code == 0, r
    assert f"Deleted task {done} (it had succeeded); its outputs can no longer be fetched." in (
        r.stderr
    )
    assert REFUNDS not in r.stderr  # a finished task's bill stands: only cancels are refunded
    assert server_status(sandbox, done) == 404
    assert _entry(cli, done)["status"] == "DELETED"

    for gone in (done, SOME_TASK_ID):  # a 404 is no failure: the task is already gone
        r = cli("cancel", gone, "--json")
        assert r.code == 0, r
        assert f"Task {gone} is already gone (cancelled or deleted)." in r.stderr
        assert REFUNDS not in r.stderr
        assert json.loads(r.stdout)["tasks"][0]["action"] == "gone"


def test_on_a_terminal_deleting_a_finished_task_is_asked_on_stderr(
    cli, api_env, sandbox, monkeypatch
):
    done = _made(cli, "a fox")
    run = run_on_terminal(monkeypatch, "cancel", done, stdin=True, answer="y")
    assert run.code == 0, run.screen
    assert run.stdout == b""  # the question and its answer are talk: stdout stays data
    question = f"Task {done} has succeeded; delete it (its outputs are lost)? [y/N]: y\r\n"
    assert question in run.screen
    assert f"Deleted task {done}" in run.screen and REFUNDS not in run.screen
    assert server_status(sandbox, done) == 404
    assert _entry(cli, done)["status"] == "DELETED"


# -- --cancel-on-timeout ------------------------------------------------------------------------


def test_generate_cancel_on_timeout_cancels_the_task_on_the_server(cli, api_env, sandbox, workdir):
    r = cli("generate", "a fox [sandbox:hang]", *SMALL, "--timeout", "0.3", "--cancel-on-timeout")
    assert r.code == 6, r
    task_id = task_id_from(r.stderr)
    assert "cancelled it on the server (--cancel-on-timeout)" in error_line(r.stderr)
    assert "Resume with" not in r.stderr  # nothing left to resume
    assert server_status(sandbox, task_id) == 404
    entry = _entry(cli, task_id)
    assert entry["status"] == "CANCELLED" and entry["note"] == "cancelled after --timeout"
    assert files_in(workdir) == []


def test_download_times_out_and_cancels_only_when_asked(cli, api_env, sandbox, workdir):
    task_id = _made(cli, "a fox [sandbox:hang]", "--no-wait")
    r = cli("download", task_id, "--timeout", "0.3")
    assert r.code == 6, r
    assert f"Resume with: runway-img download {task_id}" in error_line(r.stderr)
    assert server_state(sandbox, task_id) == "RUNNING"  # left alone

    r = cli("download", task_id, "--timeout", "0.3", "--cancel-on-timeout")
    assert r.code == 6, r
    assert "cancelled it on the server (--cancel-on-timeout)" in error_line(r.stderr)
    assert server_status(sandbox, task_id) == 404
    assert _entry(cli, task_id)["status"] == "CANCELLED"
    assert files_in(workdir) == []


@pytest.mark.parametrize("command", ["generate", "download"])
def test_cancel_on_timeout_while_runway_is_unreachable_says_not_cancelled(
    cli, api_env, sandbox, workdir, command
):
    if command == "download":
        task_id = _made(cli, "a fox [sandbox:hang]", "--no-wait")
        # the download's first look at the task gets through; nothing after it does
        sandbox.faults.add(FaultRule("delay", method="GET", path="/v1/tasks/", times=1))
        args = ["download", task_id]
    else:
        args = ["generate", "a fox [sandbox:hang]", *SMALL]
    sandbox.faults.add(FaultRule("status", status=503, path="/v1/tasks/", times=None))
    r = cli(*args, "--timeout", "0.3", "--cancel-on-timeout")
    assert r.code == 7, r
    task_id = task_id_from(r.stderr)
    line = error_line(r.stderr)
    assert f"could not cancel task {task_id}" in line and "so it was not cancelled" in line
    assert f"Cancel it later with: runway-img cancel {task_id}" in line
    assert sandbox.count("DELETE", f"/v1/tasks/{task_id}") >= 1  # it did try
    sandbox.faults.replace([])
    assert server_state(sandbox, task_id) == "RUNNING"  # still there, as said
    assert _entry(cli, task_id)["status"] == "CREATED"  # not recorded as cancelled
    assert files_in(workdir) == []


# -- credits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "cells", "json_limits"),
    [
        pytest.param({"concurrency": 3, "daily_limit": 7}, ["3", "7"], [3, 7], id="limited"),
        pytest.param(
            {"concurrency": None, "daily_limit": None}, ["-", "-"], [None, None], id="unlimited"
        ),
    ],
)
def test_credits_show_the_balance_limits_and_usage_today(
    cli, api_env, monkeypatch, limits, cells, json_limits
):
    with SandboxServer(keys=[KEY], timeline=FAST, credits=1234, **limits) as sb:
        monkeypatch.setenv("RUNWAYML_BASE_URL", sb.base_url)
        before = cli("credits")
        assert before.code == 0, before
        _made(cli, "a fox")  # 512x512: 5 credits
        after = cli("credits")
        obj = json.loads(cli("credits", "--json").stdout)

    lines = before.stdout.splitlines()
    assert lines[:2] == ["Credit balance: 1,234", "Monthly spend limit: 100,000"]
    assert lines[2].split() == ["MODEL", "CONCURRENT", "DAILY", "LIMIT", "USED", "TODAY"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:]}
    assert len(rows) == 21 and rows["gen4_image"] == [*cells, "0"]  # one row per model
    assert after.stdout.splitlines()[0] == "Credit balance: 1,229"
    used = {line.split()[0]: line.split()[-1] for line in after.stdout.splitlines()[3:]}
    assert {m: n for m, n in used.items() if n != "0"} == {"gemini_image3.1_flash": "1"}

    assert obj["creditBalance"] == 1229 and obj["maxMonthlyCreditSpend"] == 100_000
    concurrent, daily = json_limits
    assert obj["models"]["gemini_image3.1_flash"] == {
        "maxConcurrentGenerations": concurrent,
        "maxDailyGenerations": daily,
        "dailyGenerations": 1,
    }
    assert obj["models"]["gen4_image"]["dailyGenerations"] == 0
