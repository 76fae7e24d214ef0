"""Waiting for a task: the polling schedule and the loop that follows a task to its end.

Time is injected (``clock``, ``sleep``) so the schedule and the timeout are tested without
real sleeps. Progress goes to a callback: this module never prints.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runway_cli.errors import (
    AmbiguousCreateError,
    APIError,
    InvalidResponseError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    RunwayImgError,
    ServerError,
    TaskCancelledError,
    TaskFailedError,
    TaskGoneError,
    WaitTimeoutError,
)

if TYPE_CHECKING:  # settings imports this module for PollSchedule: keep that import light
    from runway_cli.api.types import Task

# failureCode prefix -> what the user can do about it (first match wins).
_FAILURE_HINTS: tuple[tuple[str, str], ...] = (
    ("SAFETY.", "Content moderation stopped it; retrying the same input will fail again."),
    (
        "INPUT_PREPROCESSING.SAFETY.",
        "Content moderation stopped it; retrying the same input will fail again.",
    ),
    ("ASSET.INVALID", "A reference image is not usable; check its format, size and URL."),
    ("INTERNAL.BAD_OUTPUT", "The model produced a bad result; change the prompt and try again."),
    ("INPUT_PREPROCESSING.INTERNAL", "A temporary problem at Runway; trying later may help."),
    ("THIRD_PARTY.UNAVAILABLE", "The model's provider is unavailable; try again later."),
    ("INTERNAL", "A temporary problem at Runway; trying again later may help."),
)


@dataclass(frozen=True)
class PollSchedule:
    """First check after ``initial`` seconds, then back off to about every ``maximum``."""

    initial: float = 1.0
    maximum: float = 5.0
    factor: float = 2.0
    jitter: float = 0.2  # +/- fraction applied after the first check
    rng: random.Random = field(default_factory=random.Random, compare=False)

    @classmethod
    def fixed(cls, interval: float) -> PollSchedule:
        """Poll every ``interval`` seconds (sandboxes and tests)."""
        return cls(initial=interval, maximum=interval, jitter=0.0)

    def delays(self) -> Iterator[float]:
        yield self.initial
        base = self.initial
        while True:
            base = min(base * self.factor, self.maximum)
            spread = base * self.jitter
            yield max(0.0, base + self.rng.uniform(-spread, spread))


def failure_hint(failure_code: str | None) -> str:
    if failure_code:
        for prefix, hint in _FAILURE_HINTS:
            if failure_code.startswith(prefix):
                return hint
    return "Trying again later may help; if it keeps failing, change the prompt."


def raise_for_outcome(task: Task) -> None:
    """Raise the typed error for a FAILED or CANCELLED task; return for anything else."""
    from runway_cli.api.types import TaskStatus

    if task.status is TaskStatus.FAILED:
        failure = task.failure
        reason = failure.message if failure else "no reason given"
        code = failure.code if failure else None
        which = f" ({code})" if code else ""
        raise TaskFailedError(
            f"Task {task.id} failed{which}: {reason}",
            task_id=task.id,
            task=task,
            hint=failure_hint(code),
        )
    if task.status is TaskStatus.CANCELLED:
        raise TaskCancelledError(f"Task {task.id} was cancelled.", task_id=task.id, task=task)


def is_transient(exc: RunwayImgError) -> bool:
    """A poll failure worth riding out: the service is down or busy, the task is not."""
    if isinstance(exc, AmbiguousCreateError):
        return False
    return isinstance(exc, NetworkError | ServerError | RateLimitError | InvalidResponseError)


def wait_for_task(
    get_task: Callable[[str], Task],
    task_id: str,
    *,
    timeout: float,
    schedule: PollSchedule | None = None,
    on_update: Callable[[Task], None] = lambda task: None,
    on_trouble: Callable[[RunwayImgError], None] = lambda exc: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    current: Task | None = None,
) -> Task:
    """Poll until the task ends; return it if SUCCEEDED, else raise the typed error.

    ``current`` is a task already fetched: if it has ended no request is made. Any status
    other than SUCCEEDED, FAILED and CANCELLED counts as still in progress. Transient poll
    failures (connection errors, 5xx, 429, answers that are not JSON) are ridden out for as
    long as ``timeout`` allows: ``on_trouble`` hears of the first of a run of them; a
    ``Retry-After`` is honoured. If the wait ends while they last, the last one is raised as
    a ``NetworkError`` (the service, not the task, is the problem). A 404 for the task means
    it was cancelled or deleted elsewhere (``TaskGoneError``).
    """
    if current is not None:
        on_update(current)
        if current.status.is_terminal:
            raise_for_outcome(current)
            return current
    deadline = clock() + timeout
    task = current
    trouble: RunwayImgError | None = None
    for delay in (schedule or PollSchedule()).delays():
        remaining = deadline - clock()
        if remaining <= 0:
            break
        asked = trouble.retry_after if isinstance(trouble, APIError) else None
        sleep(min(max(delay, asked or 0.0), remaining))
        try:
            task = get_task(task_id)
        except NotFoundError as exc:
            raise TaskGoneError(
                f"Task {task_id} is gone: it was cancelled or deleted elsewhere (HTTP 404).",
                task_id=task_id,
                task=task,
            ) from exc
        except RunwayImgError as exc:
            if not is_transient(exc):
                raise
            if trouble is None:
                on_trouble(exc)
            trouble = exc
            continue
        trouble = None
        on_update(task)
        if task.status.is_terminal:
            raise_for_outcome(task)
            return task
    if trouble is not None:
        raise NetworkError(
            f"Stopped waiting after {timeout:g}s: Runway is not answering "
            f"({trouble.message.rstrip('.')}).",
            hint="The task may still finish; try again later.",
        ) from trouble
    state = task.status_text if task is not None else "unknown"
    raise WaitTimeoutError(
        f"Stopped waiting after {timeout:g}s; task {task_id} is still {state}.",
        task_id=task_id,
        task=task,
    )
