"""Unit tests for runway_cli.polling: the poll schedule and the wait loop, on simulated time."""

from __future__ import annotations

import random
from itertools import islice
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runway_cli.api.types import Task, TaskStatus
from runway_cli.errors import (
    AmbiguousCreateError,
    AuthenticationError,
    BadRequestError,
    InvalidResponseError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TaskCancelledError,
    TaskFailedError,
    TaskGoneError,
    UsageError,
    WaitTimeoutError,
)
from runway_cli.polling import (
    PollSchedule,
    failure_hint,
    is_transient,
    raise_for_outcome,
    wait_for_task,
)
from tests.fakes import TASK_ID, FakeTime, task


class FakeServer:
    """get_task() answers with the given statuses in order, repeating the last one forever."""

    def __init__(self, *statuses: str, **extra: Any) -> None:
        self.statuses = list(statuses)
        self.extra = extra
        self.calls: list[str] = []

    def get_task(self, task_id: str) -> Task:
        self.calls.append(task_id)
        index = min(len(self.calls), len(self.statuses)) - 1
        return Task.from_api(
            {"id": task_id, "status": self.statuses[index], "poll": len(self.calls), **self.extra},
            task_id,
        )


def no_requests(task_id: str) -> Task:
    raise AssertionError(f"get_task({task_id!r}) should not have been called")


def steady() -> PollSchedule:
    """The default shape without jitter: 1, 2, 4, 5, 5, ..."""
    return PollSchedule(jitter=0.0)


def run(server: FakeServer, time: FakeTime, **kwargs: Any) -> Task:
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


def test_fixed_schedule_never_varies() -> None:
    assert list(islice(PollSchedule.fixed(0.25).delays(), 5)) == [0.25] * 5


# --- wait_for_task: outcomes --------------------------------------------------------------


def test_returns_task_on_succeeded() -> None:
    server = FakeServer("PENDING", "RUNNING", "SUCCEEDED", output=["https://x/1.png"])
    time = FakeTime()
    done = run(server, time)
    assert done.status is TaskStatus.SUCCEEDED
    assert done.output_urls == ("https://x/1.png",)
    assert server.calls == [TASK_ID] * 3
    assert time.sleeps == [1.0, 2.0, 4.0]


def test_on_update_called_for_each_poll_in_order() -> None:
    server = FakeServer("PENDING", "RUNNING", "RUNNING", "SUCCEEDED")
    seen: list[tuple[int, str]] = []
    run(server, FakeTime(), on_update=lambda t: seen.append((t.raw["poll"], t.status_text)))
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
    assert error.task is not None and error.task.status is TaskStatus.FAILED
    assert "It went wrong" in error.message
    if code is not None:
        assert error.message == f"Task {TASK_ID} failed ({code}): It went wrong"
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
    assert info.value.task is not None and info.value.task.status is TaskStatus.CANCELLED


@pytest.mark.parametrize(
    "status", ["PENDING", "RUNNING", "PROCESSING", "THROTTLED", "NEW_THING", "OTHER", "succeeded"]
)
def test_non_terminal_statuses_keep_polling(status: str) -> None:
    server = FakeServer(status, status, status, "SUCCEEDED")
    assert run(server, FakeTime()).status is TaskStatus.SUCCEEDED
    assert len(server.calls) == 4


def test_raise_for_outcome_ignores_non_terminal_and_success() -> None:
    with pytest.raises(TaskFailedError):
        raise_for_outcome(task("FAILED"))
    for status in ("SUCCEEDED", "RUNNING", "NEW_THING"):
        raise_for_outcome(task(status))  # no error


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
    assert error.task is not None and error.task.status is TaskStatus.RUNNING
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


@settings(deadline=None, database=None)
@given(timeout=st.floats(0.001, 900.0), seed=st.integers(0, 2**32))
@example(timeout=0.01, seed=0)
@example(timeout=600.0, seed=99)
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
    done = run(FakeServer("RUNNING", "SUCCEEDED"), time, timeout=3.0)
    assert done.status is TaskStatus.SUCCEEDED
    assert time.sleeps == [1.0, 2.0]


def test_timeout_status_unknown_when_never_polled() -> None:
    # The clock jumps past the deadline before the first poll (a suspended laptop).
    readings = iter([0.0, 100.0])
    with pytest.raises(WaitTimeoutError, match="still unknown") as info:
        wait_for_task(
            no_requests, TASK_ID, timeout=10, clock=lambda: next(readings), sleep=FakeTime().sleep
        )
    assert info.value.task is None


def test_timeout_names_a_status_it_does_not_know() -> None:
    with pytest.raises(WaitTimeoutError, match="still NEW_THING"):
        run(FakeServer("NEW_THING"), FakeTime(), timeout=1.5)


# --- wait_for_task: the task goes away, or polling fails -----------------------------------


def test_404_while_following_means_the_task_is_gone() -> None:
    calls = 0

    def get_task(task_id: str) -> Task:
        nonlocal calls
        calls += 1
        if calls == 1:
            return task("RUNNING")
        raise NotFoundError("Task not found (HTTP 404)", status_code=404)

    time = FakeTime()
    with pytest.raises(TaskGoneError, match="cancelled or deleted elsewhere") as info:
        wait_for_task(get_task, TASK_ID, timeout=60, clock=time.clock, sleep=time.sleep)
    error = info.value
    assert isinstance(error, TaskCancelledError)  # exits 5, like a cancelled task
    assert error.task_id == TASK_ID
    assert error.task is not None and error.task.status is TaskStatus.RUNNING  # last seen
    assert isinstance(error.__cause__, NotFoundError)


@pytest.mark.parametrize(
    "failure",
    [
        AuthenticationError("Bad key (HTTP 401)", status_code=401),
        BadRequestError("Nope (HTTP 400)", status_code=400),
        AmbiguousCreateError("may have reached Runway"),
    ],
)
def test_failures_that_waiting_cannot_fix_propagate_unchanged(failure) -> None:
    server = Flaky(failure)
    time = FakeTime()
    with pytest.raises(type(failure)) as info:
        wait_for_task(server.get_task, TASK_ID, timeout=60, clock=time.clock, sleep=time.sleep)
    assert info.value is failure and server.calls == 1


@pytest.mark.parametrize(
    ("failure", "transient"),
    [
        (NetworkError("reset"), True),
        (ServerError("Bad gateway (HTTP 502)", status_code=502), True),
        (RateLimitError("Slow down (HTTP 429)"), True),
        (InvalidResponseError("not JSON"), True),
        (AmbiguousCreateError("maybe"), False),
        (AuthenticationError("x", status_code=401), False),
        (NotFoundError("x", status_code=404), False),
        (UsageError("x"), False),
    ],
)
def test_is_transient(failure, transient: bool) -> None:
    assert is_transient(failure) is transient


class Flaky:
    """get_task() raises the given failures in order, then answers with ``then``."""

    def __init__(self, *failures: Exception, then: str = "RUNNING") -> None:
        self.failures = list(failures)
        self.then = then
        self.calls = 0

    def get_task(self, task_id: str) -> Task:
        self.calls += 1
        if self.failures:
            failure = self.failures.pop(0)
            if self.then == "forever":
                self.failures.append(failure)
            raise failure
        return task(self.then)


def test_an_outage_is_ridden_out_and_heard_of_once() -> None:
    server = Flaky(NetworkError("reset"), ServerError("502", status_code=502), then="SUCCEEDED")
    heard: list[str] = []
    time = FakeTime()
    done = wait_for_task(
        server.get_task,
        TASK_ID,
        timeout=60,
        schedule=steady(),
        on_trouble=lambda exc: heard.append(exc.message),
        clock=time.clock,
        sleep=time.sleep,
    )
    assert done.status is TaskStatus.SUCCEEDED and server.calls == 3
    assert heard == ["reset"]  # the first of a run of failures, not each


def test_each_new_outage_is_heard_of() -> None:
    answers = iter([NetworkError("one"), task("RUNNING"), NetworkError("two"), task("SUCCEEDED")])

    def get_task(task_id: str) -> Task:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    heard: list[str] = []
    time = FakeTime()
    wait_for_task(
        get_task,
        TASK_ID,
        timeout=60,
        on_trouble=lambda exc: heard.append(exc.message),
        clock=time.clock,
        sleep=time.sleep,
    )
    assert heard == ["one", "two"]


def test_retry_after_of_a_rate_limit_is_honoured_between_polls() -> None:
    limited = RateLimitError("Slow down (HTTP 429)", retry_after=12.0)
    server = Flaky(limited, then="SUCCEEDED")
    time = FakeTime()
    wait_for_task(
        server.get_task, TASK_ID, timeout=60, schedule=steady(), clock=time.clock, sleep=time.sleep
    )
    assert time.sleeps == [1.0, 12.0]  # the server's wait, not the schedule's 2 s


def test_an_outage_that_outlasts_the_wait_is_a_network_error() -> None:
    reset = NetworkError("Could not reach api: the connection was reset.")
    server = Flaky(reset, then="forever")
    time = FakeTime()
    with pytest.raises(NetworkError) as info:
        wait_for_task(
            server.get_task,
            TASK_ID,
            timeout=30,
            schedule=steady(),
            clock=time.clock,
            sleep=time.sleep,
        )
    error = info.value
    assert not isinstance(error, WaitTimeoutError)  # the service is the problem, not the task
    assert error.__cause__ is reset
    assert error.message.startswith("Stopped waiting after 30s: Runway is not answering")
    assert "may still finish" in (error.hint or "")
    assert time.elapsed == pytest.approx(30.0)


def test_the_outage_message_has_no_doubled_punctuation() -> None:
    server = Flaky(NetworkError("Could not reach api: the connection was reset."), then="forever")
    time = FakeTime()
    with pytest.raises(NetworkError) as info:
        wait_for_task(server.get_task, TASK_ID, timeout=5, clock=time.clock, sleep=time.sleep)
    assert ".)" not in info.value.message


# --- wait_for_task: current= --------------------------------------------------------------


def test_current_succeeded_makes_no_request() -> None:
    current = task("SUCCEEDED", output=["https://x/a.png"])
    updates: list[Task] = []
    time = FakeTime()
    done = wait_for_task(
        no_requests,
        TASK_ID,
        timeout=10,
        current=current,
        on_update=updates.append,
        clock=time.clock,
        sleep=time.sleep,
    )
    assert done is current
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
            current=task(status),
            clock=time.clock,
            sleep=time.sleep,
        )
    assert time.sleeps == []


def test_current_in_progress_is_reported_then_polled() -> None:
    server = FakeServer("SUCCEEDED")
    updates: list[str] = []
    current = task("RUNNING")
    done = run(
        server, FakeTime(), current=current, on_update=lambda t: updates.append(t.status_text)
    )
    assert done.status is TaskStatus.SUCCEEDED
    assert updates == ["RUNNING", "SUCCEEDED"]
    assert len(server.calls) == 1
