"""The sandbox answers as the live API does, checked on the raw bytes over a real socket.

Plain ``http.client`` (not the runway_cli client, which would coerce types silently) and an
injected clock: integer credits, tasks that are gone after ``DELETE``, refunds for FAILED and
CANCELLED tasks, and the documented failure codes selected by prompt markers.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from runway_cli.sandbox import FAILURES, SandboxServer, Timeline

KEY = "key_" + "ef56" * 32
HEADERS = {
    "Authorization": f"Bearer {KEY}",
    "X-Runway-Version": "2024-11-06",
    "Content-Type": "application/json",
}
START = 1_800_000_000.0
GONE = {"error": "Could not find Task"}


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = START + seconds


INTEGER_FIELDS = {
    "credits",
    "creditBalance",
    "maxMonthlyCreditSpend",
    "maxConcurrentGenerations",
    "maxDailyGenerations",
    "dailyGenerations",
}


def strict_json(text: str) -> Any:
    """Parsed JSON whose credit and limit fields are integers (``5``, never ``5.0``): the
    spec says integer, and clients that decode into integer types reject ``5.0``."""

    def check(value: Any, key: str | None = None) -> None:
        if key in INTEGER_FIELDS:
            assert value is None or type(value) is int, f"{key} is {value!r} in {text}"
        if isinstance(value, dict):
            for k, v in value.items():
                check(v, k)
        elif isinstance(value, list):
            for v in value:
                check(v)

    data = json.loads(text)
    check(data)
    return data


class RawApi:
    def __init__(self, server: SandboxServer) -> None:
        url = urlsplit(server.base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        try:
            data = None if body is None else json.dumps(body)
            conn.request(method, path, body=data, headers=HEADERS)
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def create(self, prompt: str = "a fox", **extra: Any) -> dict[str, Any]:
        body = {"model": "gen4_image", "promptText": prompt, "ratio": "1280:720", **extra}
        status, text = self.call("POST", "/v1/text_to_image", body)
        assert status == 200, text
        created: dict[str, Any] = strict_json(text)
        return created

    def task(self, task_id: str) -> tuple[int, Any]:
        status, text = self.call("GET", f"/v1/tasks/{task_id}")
        return status, strict_json(text)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[SandboxServer]:
    with SandboxServer(
        keys=[KEY], timeline=Timeline(pending=1.0, running=4.0), clock=clock
    ) as server:
        yield server


@pytest.fixture
def api(sandbox: SandboxServer) -> RawApi:
    return RawApi(sandbox)


# -- credits are JSON integers -------------------------------------------------------------------


def test_credits_are_json_integers_everywhere(api: RawApi, clock: FakeClock) -> None:
    created = api.create("a fox")
    assert type(created["estimatedCost"]["credits"]) is int
    failed = api.create("[sandbox:fail]")
    status, pending = api.task(created["id"])  # strict_json refuses 5.0
    assert status == 200 and type(pending["estimatedCost"]["credits"]) is int
    clock.at(10)
    _, done = api.task(created["id"])
    assert done["status"] == "SUCCEEDED" and done["cost"] == {"credits": 5}
    _, refunded = api.task(failed["id"])
    assert refunded["status"] == "FAILED" and refunded["cost"] == {"credits": 0}
    status, text = api.call("GET", "/v1/organization")
    org = strict_json(text)
    assert status == 200 and type(org["creditBalance"]) is int and org["creditBalance"] == 9995
    assert type(org["tier"]["maxMonthlyCreditSpend"]) is int
    for limits in org["tier"]["models"].values():
        assert {type(v) for v in limits.values()} == {int}
    assert org["usage"]["models"]["gen4_image"] == {"dailyGenerations": 2}


def test_the_raw_text_has_no_fractional_credits(api: RawApi) -> None:
    status, text = api.call(
        "POST",
        "/v1/text_to_image",
        {"model": "gen4_image", "promptText": "a fox", "ratio": "1920:1080"},
    )
    assert status == 200
    assert '"credits": 8}' in text and "8.0" not in text


# -- DELETE: aborted and deleted tasks cannot be fetched again ----------------------------------


@pytest.mark.parametrize("when", [0.0, 2.0, 10.0], ids=["pending", "running", "succeeded"])
def test_a_deleted_task_is_gone_for_good(api: RawApi, clock: FakeClock, when: float) -> None:
    task_id = api.create()["id"]
    clock.at(when)
    assert api.call("DELETE", f"/v1/tasks/{task_id}") == (204, "")
    assert api.task(task_id) == (404, GONE)
    status, text = api.call("DELETE", f"/v1/tasks/{task_id}")
    assert (status, json.loads(text)) == (404, GONE)
    clock.at(when + 100)
    assert api.task(task_id) == (404, GONE)


def test_an_aborted_throttled_task_is_gone(sandbox: SandboxServer, api: RawApi) -> None:
    ids = [api.create(f"fox {i}")["id"] for i in range(3)]  # concurrency 2 by default
    assert api.task(ids[2])[1]["status"] == "THROTTLED"
    assert api.call("DELETE", f"/v1/tasks/{ids[2]}")[0] == 204
    assert api.task(ids[2]) == (404, GONE)


def test_the_outputs_of_a_deleted_task_are_gone(api: RawApi, clock: FakeClock) -> None:
    task_id = api.create()["id"]
    clock.at(10)
    url = urlsplit(api.task(task_id)[1]["output"][0])
    assert api.call("GET", f"{url.path}?{url.query}")[0] == 200
    api.call("DELETE", f"/v1/tasks/{task_id}")
    assert api.call("GET", f"{url.path}?{url.query}")[0] == 404


def test_a_task_cancelled_by_the_marker_stays_visible(api: RawApi, clock: FakeClock) -> None:
    task_id = api.create("a fox [sandbox:cancel]")["id"]
    clock.at(1.0)
    status, task = api.task(task_id)
    assert status == 200
    assert task["status"] == "CANCELLED" and task["cost"] == {"credits": 0}
    assert set(task) == {"id", "createdAt", "status", "cost"}


def test_an_unknown_task_is_not_found(api: RawApi) -> None:
    assert api.task("00000000-0000-4000-8000-000000000000") == (404, GONE)


# -- failure codes, chosen by marker -------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(c for c in FAILURES if c != "none"))
def test_fail_marker_picks_a_documented_failure_code(
    api: RawApi, clock: FakeClock, code: str
) -> None:
    task_id = api.create(f"a fox [sandbox:fail:{code}]")["id"]
    clock.at(10)
    status, task = api.task(task_id)
    assert status == 200
    assert task == {
        "id": task_id,
        "createdAt": task["createdAt"],
        "status": "FAILED",
        "failure": FAILURES[code].message,
        "failureCode": code,
        "cost": {"credits": 0},
    }


@pytest.mark.parametrize(
    ("code", "seen_running"),
    [("SAFETY.INPUT.TEXT", False), ("INPUT_PREPROCESSING.SAFETY.TEXT", False), ("INTERNAL", True)],
)
def test_input_failures_end_before_running(
    api: RawApi, clock: FakeClock, code: str, seen_running: bool
) -> None:
    task_id = api.create(f"[sandbox:fail:{code}]")["id"]
    clock.at(1.0)
    assert api.task(task_id)[1]["status"] == ("RUNNING" if seen_running else "FAILED")


def test_plain_fail_marker_keeps_its_code(api: RawApi, clock: FakeClock) -> None:
    task_id = api.create("[sandbox:fail]")["id"]
    clock.at(10)
    assert api.task(task_id)[1]["failureCode"] == "INTERNAL.BAD_OUTPUT.CODE01"


def test_fail_marker_without_a_code(api: RawApi, clock: FakeClock) -> None:
    task_id = api.create("[sandbox:fail:none]")["id"]
    clock.at(10)
    task = api.task(task_id)[1]
    assert task["status"] == "FAILED" and "failureCode" not in task and task["failure"]


def test_an_unlisted_failure_code_is_passed_through(api: RawApi, clock: FakeClock) -> None:
    task_id = api.create("[sandbox:fail:SAFETY.OUTPUT.VIDEO]")["id"]
    clock.at(10)
    task = api.task(task_id)[1]
    assert task["failureCode"] == "SAFETY.OUTPUT.VIDEO" and task["failure"] == "The task failed."
