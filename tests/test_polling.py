"""Unit tests for runway_cli.waiting: the poll schedule and the wait loop, on simulated time."""

from __future__ import annotations

import random
from itertools import islice
from typing import Any

import pytest

from runway_cli.errors import TaskCancelledError, TaskFailedError, UsageError, WaitTimeoutError
from runway_cli.waiting import (
    POLL_INTERVAL_ENV,
    PollSchedule,
    failure_hint,
    raise_for_outcome,
    wait_for_task,
)

TASK_ID = "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b"


class FakeTime:
    """A monotonic clock whose sleep() advances it instantly and records each wait."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.start = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, f"negative sleep {seconds}"
        self.sleeps.append(seconds)
        self.now += seconds

    @property
    def elapsed(self) -> float:
        return self.now - self.start


class FakeServer:
    """get_task() answers with the given statuses in order, repeating the last one forever."""

    def __init__(self, *statuses: str | None, **extra: Any) -> None:
        self.statuses = list(statuses)
        self.extra = extra
        self.calls: list[str] = []

    def get_task(self, task_id: str) -> dict[str, Any]:
        self.calls.append(task_id)
        index = min(len(self.calls), len(self.statuses)) - 1
        task: dict[str, Any] = {"id": task_id, "poll": len(self.calls), **self.extra}
        if self.statuses[index] is not None:
            task["status"] = self.statuses[index]
        return task


def no_requests(task_id: str) -> dict[str, Any]:
    raise AssertionError(f"get_task({task_id!r}) should not have been called")


def steady() -> PollSchedule:
    """The default shape without jitter: 1, 2, 4, 5, 5, ..."""
    return PollSchedule(jitter=0.0)


def run(server: FakeServer, time: FakeTime, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("timeout", 600.0)
    kwargs.setdefault("schedule", steady())
    return wait_for_task(server.get_task, TASK_ID, clock=time.clock, sleep=time.sleep, **kwargs)


# --- PollSchedule -------------------------------------------------------------------------


def test_delays_without_jitter_back_off_to_maximum() -> None:
    assert list(islice(steady().delays(), 7)) == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0]


@pytest.mark.parametrize("seed", [0, 1, 42, 2024])
def test_delays_first_is_exact_then_jitter_within_20_percent(seed: int) -> None:
    delays = list(islice(PollSchedule(rng=random.Random(seed)).delays(), 200))
    assert delays[0] == 1.0
    bases = [2.0, 4.0] + [5.0] * (len(delays) - 3)
    for delay, base in zip(delays[1:], bases, strict=True):
        assert base * 0.8 <= delay <= base * 1.2
        assert delay <= 6.0
    # Jitter is really applied: the steady-state delays are not all identical.
    assert len(set(delays[3:])) > 1


def test_delays_same_seed_same_schedule() -> None:
    a = list(islice(PollSchedule(rng=random.Random(7)).delays(), 20))
    b = list(islice(PollSchedule(rng=random.Random(7)).delays(), 20))
    assert a == b


def test_delays_settle_around_five_seconds() -> None:
    delays = list(islice(PollSchedule(rng=random.Random(3)).delays(), 2000))[3:]
    mean = sum(delays) / len(delays)
    assert 4.8 <= mean <= 5.2


def test_from_env_unset_gives_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POLL_INTERVAL_ENV, raising=False)
    schedule = PollSchedule.from_env()
    assert (schedule.initial, schedule.maximum, schedule.jitter) == (1.0, 5.0, 0.2)


def test_from_env_empty_gives_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POLL_INTERVAL_ENV, "")
    assert PollSchedule.from_env().initial == 1.0


@pytest.mark.parametrize(("raw", "interval"), [("2.5", 2.5), ("0.05", 0.05), ("10", 10.0)])
def test_from_env_fixed_interval(
    monkeypatch: pytest.MonkeyPatch, raw: str, interval: float
) -> None:
    monkeypatch.setenv(POLL_INTERVAL_ENV, raw)
    assert list(islice(PollSchedule.from_env().delays(), 6)) == [interval] * 6


@pytest.mark.parametrize("raw", ["0", "-1", "-0.5", "abc", "nan", "1s", "--"])
def test_from_env_invalid_raises_usage_error(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(POLL_INTERVAL_ENV, raw)
    with pytest.raises(UsageError, match=POLL_INTERVAL_ENV):
        PollSchedule.from_env()


@pytest.mark.parametrize("raw", ["inf", "Infinity", "-inf"])
def test_from_env_infinite_interval_is_rejected(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    # An infinite interval would sleep the whole --timeout and then poll once.
    monkeypatch.setenv(POLL_INTERVAL_ENV, raw)
    with pytest.raises(UsageError, match=POLL_INTERVAL_ENV):
        PollSchedule.from_env()


# --- wait_for_task: outcomes --------------------------------------------------------------


def test_returns_task_on_succeeded() -> None:
    server = FakeServer("PENDING", "RUNNING", "SUCCEEDED", output=["https://x/1.png"])
    time = FakeTime()
    task = run(server, time)
    assert task["status"] == "SUCCEEDED"
    assert task["output"] == ["https://x/1.png"]
    assert server.calls == [TASK_ID] * 3
    assert time.sleeps == [1.0, 2.0, 4.0]


def test_on_update_called_for_each_poll_in_order() -> None:
    server = FakeServer("PENDING", "RUNNING", "RUNNING", "SUCCEEDED")
    seen: list[tuple[int, str]] = []
    run(server, FakeTime(), on_update=lambda task: seen.append((task["poll"], task["status"])))
    assert seen == [(1, "PENDING"), (2, "RUNNING"), (3, "RUNNING"), (4, "SUCCEEDED")]


@pytest.mark.parametrize(
    ("code", "hint_part"),
    [
        ("SAFETY.INPUT.TEXT", "moderation"),
        ("INPUT_PREPROCESSING.SAFETY.TEXT", "moderation"),
        ("ASSET.INVALID", "reference image"),
        ("INTERNAL.BAD_OUTPUT.CODE01", "change the prompt"),
        ("INPUT_PREPROCESSING.INTERNAL", "temporary problem"),
        ("THIRD_PARTY.UNAVAILABLE", "provider"),
        ("INTERNAL", "temporary problem"),
        (None, "Trying again later"),
        ("SOMETHING.NEW", "Trying again later"),
    ],
)
def test_failed_raises_with_hint_for_failure_code(code: str | None, hint_part: str) -> None:
    extra: dict[str, Any] = {"failure": "It went wrong"}
    if code is not None:
        extra["failureCode"] = code
    server = FakeServer("RUNNING", "FAILED", **extra)
    with pytest.raises(TaskFailedError) as info:
        run(server, FakeTime())
    error = info.value
    assert error.hint is not None
    assert hint_part in error.hint
    assert error.task_id == TASK_ID
    assert error.task["status"] == "FAILED"
    assert "It went wrong" in error.message
    if code is not None:
        assert f"[{code}]" in error.message
    assert len(server.calls) == 2


def test_failure_hints_differ_between_safety_and_internal() -> None:
    assert failure_hint("SAFETY.OUTPUT.IMAGE") != failure_hint("INTERNAL.BAD_OUTPUT.CODE01")
    assert failure_hint("") == failure_hint(None)


def test_failed_without_reason_says_so() -> None:
    with pytest.raises(TaskFailedError, match="no reason given"):
        run(FakeServer("FAILED"), FakeTime())


def test_cancelled_raises() -> None:
    server = FakeServer("PENDING", "CANCELLED")
    with pytest.raises(TaskCancelledError, match="was cancelled") as info:
        run(server, FakeTime())
    assert info.value.task_id == TASK_ID
    assert info.value.task["status"] == "CANCELLED"


@pytest.mark.parametrize(
    "status", ["PENDING", "RUNNING", "PROCESSING", "THROTTLED", "NEW_THING", None]
)
def test_non_terminal_statuses_keep_polling(status: str | None) -> None:
    server = FakeServer(status, status, status, "SUCCEEDED")
    assert run(server, FakeTime())["status"] == "SUCCEEDED"
    assert len(server.calls) == 4


def test_raise_for_outcome_ignores_non_terminal_and_success() -> None:
    with pytest.raises(TaskFailedError):
        raise_for_outcome({"id": TASK_ID, "status": "FAILED"})
    for status in ("SUCCEEDED", "RUNNING", None):
        raise_for_outcome({"id": TASK_ID, "status": status})  # no error


# --- wait_for_task: timeout ---------------------------------------------------------------


def test_timeout_raises_once_clock_passes_deadline() -> None:
    server = FakeServer("RUNNING")
    time = FakeTime()
    with pytest.raises(WaitTimeoutError) as info:
        run(server, time, timeout=30.0)
    assert sum(time.sleeps) <= 30.0
    assert time.elapsed == pytest.approx(30.0)
    error = info.value
    assert error.task_id == TASK_ID
    assert error.task["status"] == "RUNNING"
    assert "still RUNNING" in error.message
    assert "30s" in error.message
    # It polled along the way: 1 + 2 + 4 + 5*4 = 27, then a last clipped wait of 3.
    assert time.sleeps == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0, 3.0]
    assert len(server.calls) == len(time.sleeps)


def test_timeout_clips_last_sleep_to_remaining_time() -> None:
    time = FakeTime()
    with pytest.raises(WaitTimeoutError):
        run(FakeServer("PENDING"), time, timeout=2.5)
    assert time.sleeps == [1.0, 1.5]


@pytest.mark.parametrize("timeout", [0.01, 0.5, 1.0, 7.3, 61.0, 600.0])
@pytest.mark.parametrize("seed", [0, 99])
def test_total_simulated_sleep_never_exceeds_timeout(timeout: float, seed: int) -> None:
    time = FakeTime()
    schedule = PollSchedule(rng=random.Random(seed))
    with pytest.raises(WaitTimeoutError):
        run(FakeServer("RUNNING"), time, timeout=timeout, schedule=schedule)
    assert sum(time.sleeps) <= timeout + 1e-9
    assert time.elapsed == pytest.approx(timeout)


def test_success_on_the_last_poll_before_the_deadline_is_returned() -> None:
    # Polls at t=1, 3 (deadline): the second poll sees SUCCEEDED.
    time = FakeTime()
    task = run(FakeServer("RUNNING", "SUCCEEDED"), time, timeout=3.0)
    assert task["status"] == "SUCCEEDED"
    assert time.sleeps == [1.0, 2.0]


def test_timeout_status_unknown_when_never_polled_a_status() -> None:
    with pytest.raises(WaitTimeoutError, match="still unknown"):
        run(FakeServer(None), FakeTime(), timeout=1.5)


# --- wait_for_task: current= --------------------------------------------------------------


def test_current_succeeded_makes_no_request() -> None:
    current = {"id": TASK_ID, "status": "SUCCEEDED", "output": ["https://x/a.png"]}
    updates: list[dict[str, Any]] = []
    time = FakeTime()
    task = wait_for_task(
        no_requests,
        TASK_ID,
        timeout=10,
        current=current,
        on_update=updates.append,
        clock=time.clock,
        sleep=time.sleep,
    )
    assert task is current
    assert updates == [current]
    assert time.sleeps == []


@pytest.mark.parametrize(
    ("status", "error"), [("FAILED", TaskFailedError), ("CANCELLED", TaskCancelledError)]
)
def test_current_terminal_failure_raises_without_request(
    status: str, error: type[Exception]
) -> None:
    time = FakeTime()
    with pytest.raises(error):
        wait_for_task(
            no_requests,
            TASK_ID,
            timeout=10,
            current={"id": TASK_ID, "status": status},
            clock=time.clock,
            sleep=time.sleep,
        )
    assert time.sleeps == []


def test_current_in_progress_is_reported_then_polled() -> None:
    server = FakeServer("SUCCEEDED")
    updates: list[str] = []
    current = {"id": TASK_ID, "status": "RUNNING"}
    task = run(server, FakeTime(), current=current, on_update=lambda t: updates.append(t["status"]))
    assert task["status"] == "SUCCEEDED"
    assert updates == ["RUNNING", "SUCCEEDED"]
    assert len(server.calls) == 1
