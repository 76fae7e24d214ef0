"""The sandbox enforces the account limits it reports in ``GET /v1/organization``.

Driven over a real socket with plain ``requests`` (not the runway_cli client) and an injected
clock, so nothing sleeps: per-model concurrency (a FIFO THROTTLED queue), the rolling daily
cap (429), and the credit balance (400 when a create costs more; FAILED and CANCELLED tasks
give their credits back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from runway_cli.sandbox import AccountLimits, SandboxServer, Timeline

KEY = "key_" + "cd34" * 32
HEADERS = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}
TIMELINE = Timeline(pending=1.0, running=4.0)  # a task takes 5 s once it has a slot
PRICE = 5  # credits for one 1280x720 image


START = 1_800_000_000.0


class FakeClock:
    """The sandbox's time: ``at(seconds)`` after the start (exact, to keep sums exact)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = START + seconds


class Api:
    """Plain HTTP calls to one sandbox."""

    def __init__(self, server: SandboxServer) -> None:
        self.base = server.base_url

    def create(self, prompt: str = "a fox", model: str = "gen4_image") -> requests.Response:
        body: dict[str, Any] = {"model": model, "promptText": prompt, "ratio": "1280:720"}
        if model == "gemini_image3_pro":
            body["ratio"] = "1024:1024"
        return requests.post(f"{self.base}/v1/text_to_image", json=body, headers=HEADERS, timeout=5)

    def create_id(self, prompt: str = "a fox", model: str = "gen4_image") -> str:
        r = self.create(prompt, model)
        assert r.status_code == 200, r.text
        task_id: str = r.json()["id"]
        return task_id

    def task(self, task_id: str) -> dict[str, Any]:
        r = requests.get(f"{self.base}/v1/tasks/{task_id}", headers=HEADERS, timeout=5)
        assert r.status_code == 200, r.text
        task: dict[str, Any] = r.json()
        return task

    def status(self, task_id: str) -> str:
        status: str = self.task(task_id)["status"]
        return status

    def delete(self, task_id: str) -> int:
        r = requests.delete(f"{self.base}/v1/tasks/{task_id}", headers=HEADERS, timeout=5)
        return r.status_code

    def organization(self) -> dict[str, Any]:
        r = requests.get(f"{self.base}/v1/organization", headers=HEADERS, timeout=5)
        assert r.status_code == 200, r.text
        org: dict[str, Any] = r.json()
        return org

    def balance(self) -> int:
        balance: int = self.organization()["creditBalance"]
        return balance


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def start(clock: FakeClock) -> Iterator[Callable[..., Api]]:
    servers: list[SandboxServer] = []

    def _start(**options: Any) -> Api:
        options.setdefault("timeline", TIMELINE)
        server = SandboxServer(keys=[KEY], clock=clock, **options).start()
        servers.append(server)
        return Api(server)

    yield _start
    for server in servers:
        server.stop()


# -- concurrency: a FIFO queue of THROTTLED tasks ------------------------------------------------


def test_tasks_beyond_the_concurrency_limit_wait_throttled_then_run_their_whole_timeline(
    start: Callable[..., Api], clock: FakeClock
) -> None:
    api = start(concurrency=2)
    first, second, third, fourth = (api.create_id(f"fox {i}") for i in range(4))
    assert [api.status(t) for t in (first, second, third, fourth)] == [
        "PENDING",
        "PENDING",
        "THROTTLED",
        "THROTTLED",
    ]
    assert api.task(third)["estimatedCost"] == {"credits": PRICE}  # THROTTLED keeps its estimate
    clock.at(4.5)
    assert [api.status(t) for t in (first, third)] == ["RUNNING", "THROTTLED"]
    clock.at(5.0)  # the first two end: both slots free at once
    assert [api.status(t) for t in (first, second, third, fourth)] == [
        "SUCCEEDED",
        "SUCCEEDED",
        "PENDING",
        "PENDING",
    ]
    clock.at(6.0)  # their own PENDING time, counted from the moment they got a slot
    assert api.task(third)["status"] == "RUNNING"
    assert api.task(third)["progress"] == 0.0
    clock.at(10.0)
    assert [api.status(t) for t in (third, fourth)] == ["SUCCEEDED", "SUCCEEDED"]


def test_the_queue_is_first_in_first_out(start: Callable[..., Api], clock: FakeClock) -> None:
    api = start(concurrency=1)
    running = api.create_id("one")
    clock.at(1.0)
    early = api.create_id("two")
    clock.at(2.0)
    late = api.create_id("three")
    clock.at(5.0)  # "one" ends: "two" gets the slot, "three" still waits
    assert [api.status(t) for t in (running, early, late)] == ["SUCCEEDED", "PENDING", "THROTTLED"]
    clock.at(10.0)
    assert [api.status(t) for t in (early, late)] == ["SUCCEEDED", "PENDING"]


def test_aborting_a_running_task_frees_its_slot_at_that_moment(
    start: Callable[..., Api], clock: FakeClock
) -> None:
    api = start(concurrency=1)
    running = api.create_id("one")
    waiting = api.create_id("two")
    clock.at(2.0)
    assert api.status(waiting) == "THROTTLED"
    assert api.delete(running) == 204
    assert api.status(waiting) == "PENDING"
    clock.at(3.0)
    assert api.status(waiting) == "RUNNING"


def test_aborting_a_queued_task_holds_nobody_back(
    start: Callable[..., Api], clock: FakeClock
) -> None:
    api = start(concurrency=1)
    running = api.create_id("one")
    doomed = api.create_id("two")
    behind = api.create_id("three")
    clock.at(1.0)
    assert api.delete(doomed) == 204
    clock.at(5.0)
    assert [api.status(t) for t in (running, behind)] == ["SUCCEEDED", "PENDING"]


def test_failed_and_cancelled_tasks_free_their_slot_when_they_end(
    start: Callable[..., Api], clock: FakeClock
) -> None:
    api = start(concurrency=1)
    cancelled = api.create_id("[sandbox:cancel]")
    blocked = api.create_id("[sandbox:fail:SAFETY.INPUT.TEXT]")
    behind = api.create_id("a fox")
    clock.at(1.0)  # the cancel marker ends after PENDING: the next task starts
    assert [api.status(t) for t in (cancelled, blocked, behind)] == [
        "CANCELLED",
        "PENDING",
        "THROTTLED",
    ]
    clock.at(2.0)  # an input-moderation failure ends before running
    assert [api.status(t) for t in (blocked, behind)] == ["FAILED", "PENDING"]


def test_limits_are_per_model(start: Callable[..., Api]) -> None:
    api = start(concurrency=1)
    api.create_id("one")
    assert api.status(api.create_id("two")) == "THROTTLED"
    assert api.status(api.create_id("three", model="gemini_image3_pro")) == "PENDING"


def test_no_concurrency_limit_never_throttles(start: Callable[..., Api]) -> None:
    api = start(concurrency=None)
    ids = [api.create_id(f"fox {i}") for i in range(10)]
    assert {api.status(t) for t in ids} == {"PENDING"}
    limits = api.organization()["tier"]["models"]["gen4_image"]
    assert limits["maxConcurrentGenerations"] is None


def test_a_zero_concurrency_limit_throttles_forever(
    start: Callable[..., Api], clock: FakeClock
) -> None:
    api = start(concurrency=0)
    task = api.create_id()
    clock.at(1e6)
    assert api.status(task) == "THROTTLED"


def test_throttle_marker_still_works_under_a_limit(
    start: Callable[..., Api], clock: FakeClock
) -> None:
    api = start(concurrency=5)
    task = api.create_id("a fox [sandbox:throttle]")
    clock.at(0.5)
    assert api.status(task) == "THROTTLED"
    clock.at(2.0)
    assert api.status(task) == "RUNNING"


def test_a_hanging_task_gives_its_slot_back_after_a_normal_run(
    start: Callable[..., Api], clock: FakeClock
) -> None:
    api = start(concurrency=1)
    hanging = api.create_id("[sandbox:hang]")
    behind = api.create_id("a fox")
    clock.at(5.0)  # abandoned hangs must not block a model for good
    assert [api.status(t) for t in (hanging, behind)] == ["RUNNING", "PENDING"]


def test_processes_sharing_a_state_file_agree_on_the_queue(
    start: Callable[..., Api], clock: FakeClock, tmp_path: Path
) -> None:
    state = tmp_path / "sandbox.sqlite3"
    creator = start(state_path=state, concurrency=1, timeline=TIMELINE)
    ids = [creator.create_id(f"fox {i}") for i in range(3)]
    # Another process with other settings reads each task by the settings it was created with.
    reader = start(state_path=state, concurrency=8, timeline=Timeline(pending=50, running=50))
    for moment in (0.0, 2.0, 5.0, 7.0, 10.5, 12.0):
        clock.at(moment)
        assert [creator.task(t)["status"] for t in ids] == [reader.task(t)["status"] for t in ids]
    assert [reader.status(t) for t in ids] == ["SUCCEEDED", "SUCCEEDED", "RUNNING"]


# -- the daily generation cap ------------------------------------------------------------------


def test_creates_over_the_daily_cap_answer_429_with_the_live_body(
    start: Callable[..., Api], clock: FakeClock
) -> None:
    api = start(daily_limit=3)
    for i in range(3):
        api.create_id(f"fox {i}")
    over = api.create("one more")
    assert over.status_code == 429
    assert over.json() == {"error": "Your daily task limit has been reached."}
    assert "Retry-After" not in over.headers
    assert api.create("another model", model="gemini_image3_pro").status_code == 200
    org = api.organization()
    assert org["usage"]["models"]["gen4_image"] == {"dailyGenerations": 3}
    assert org["tier"]["models"]["gen4_image"]["maxDailyGenerations"] == 3
    clock.at(86_401)  # a rolling day: the first creates no longer count
    assert api.create("next day").status_code == 200


def test_no_daily_cap_is_reported_as_null(start: Callable[..., Api]) -> None:
    api = start(daily_limit=None)
    for i in range(3):
        api.create_id(f"fox {i}")
    assert api.organization()["tier"]["models"]["gen4_image"]["maxDailyGenerations"] is None


# -- credits -------------------------------------------------------------------------------------


def test_creates_spend_credits_until_the_balance_runs_out(start: Callable[..., Api]) -> None:
    api = start(credits=12)
    assert api.balance() == 12
    api.create_id("one")
    api.create_id("two")
    assert api.balance() == 2
    refused = api.create("three")
    assert refused.status_code == 400
    assert refused.json() == {"error": "You do not have enough credits to run this task."}
    assert api.balance() == 2


def test_failed_and_cancelled_tasks_do_not_reduce_the_balance(
    start: Callable[..., Api], clock: FakeClock
) -> None:
    api = start(credits=100, concurrency=None)
    failed = api.create_id("[sandbox:fail]")
    coded = api.create_id("[sandbox:fail:THIRD_PARTY.UNAVAILABLE]")
    cancelled = api.create_id("[sandbox:cancel]")
    aborted = api.create_id("a fox")
    assert api.balance() == 100 - 4 * PRICE  # reserved while they may still succeed
    assert api.delete(aborted) == 204
    assert api.balance() == 100 - 3 * PRICE  # aborted: refunded at once
    clock.at(10)
    assert [api.task(t)["cost"] for t in (failed, coded, cancelled)] == [{"credits": 0}] * 3
    assert api.balance() == 100


def test_a_deleted_task_that_succeeded_stays_paid_for(
    start: Callable[..., Api], clock: FakeClock
) -> None:
    api = start(credits=100)
    task = api.create_id()
    clock.at(10)
    assert api.task(task)["cost"] == {"credits": PRICE}
    assert api.delete(task) == 204
    assert api.balance() == 100 - PRICE


def test_a_refund_makes_room_for_the_next_create(
    start: Callable[..., Api], clock: FakeClock
) -> None:
    api = start(credits=PRICE)
    api.create_id("[sandbox:fail]")
    assert api.create("waits for the refund").status_code == 400
    clock.at(10)
    assert api.create("after the refund").status_code == 200


@pytest.mark.parametrize(
    "options",
    [
        {"concurrency": -1},
        {"daily_limit": True},
        {"credits": None},
        {"credits": 1.5},
    ],
)
def test_bad_limits_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be a whole number"):
        AccountLimits(**options)
    with pytest.raises(ValueError, match="must be a whole number"):
        SandboxServer(**options)


def test_the_balance_and_the_daily_count_belong_to_one_run(
    start: Callable[..., Api], clock: FakeClock, tmp_path: Path
) -> None:
    """The state file keeps tasks across runs, not the account: no run inherits a spent
    balance or a used-up day (``runway-img --sandbox`` starts a server per command)."""
    state = tmp_path / "sandbox.sqlite3"
    first = start(state_path=state, credits=2 * PRICE, daily_limit=2)
    first.create_id("one")
    first.create_id("two")
    assert first.balance() == 0 and first.create("three").status_code == 429  # the day is used up
    clock.at(0.5)  # a later command
    second = start(state_path=state, credits=2 * PRICE, daily_limit=2)
    assert second.balance() == 2 * PRICE
    assert second.organization()["usage"]["models"] == {}
    task = second.create_id("three")
    # The tasks (and so the concurrency queue) are shared: it waits behind the first run's two.
    assert first.status(task) == second.status(task) == "THROTTLED"
