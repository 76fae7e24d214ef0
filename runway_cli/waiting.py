"""Waiting for a task: the polling schedule and the loop that follows a task to its end.

Time is injected (``clock``, ``sleep``) so the schedule and the timeout are tested without
real sleeps. Rendering is a callback: this module never prints.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from runway_cli.client import TERMINAL_STATUSES
from runway_cli.config import positive_seconds_env
from runway_cli.errors import (
    TaskCancelledError,
    TaskFailedError,
    WaitTimeoutError,
)

POLL_INTERVAL_ENV = "RUNWAY_IMG_POLL_INTERVAL"

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


@dataclass
class PollSchedule:
    """First check after ``initial`` seconds, then back off to about every ``maximum``."""

    initial: float = 1.0
    maximum: float = 5.0
    factor: float = 2.0
    jitter: float = 0.2  # +/- fraction applied after the first check
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def from_env(cls) -> PollSchedule:
        """The default schedule, or a fixed interval from ``RUNWAY_IMG_POLL_INTERVAL``."""
        interval = positive_seconds_env(POLL_INTERVAL_ENV)
        if interval is None:
            return cls()
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


def raise_for_outcome(task: dict[str, Any]) -> None:
    """Raise the typed error for a FAILED or CANCELLED task; return for anything else."""
    task_id = str(task.get("id", "?"))
    status = task.get("status")
    if status == "FAILED":
        code = task.get("failureCode")
        reason = task.get("failure") or "no reason given"
        suffix = f" [{code}]" if code else ""
        raise TaskFailedError(
            f"Task {task_id} failed: {reason}{suffix}",
            task_id=task_id,
            task=task,
            hint=failure_hint(code if isinstance(code, str) else None),
        )
    if status == "CANCELLED":
        raise TaskCancelledError(f"Task {task_id} was cancelled.", task_id=task_id, task=task)


def wait_for_task(
    get_task: Callable[[str], dict[str, Any]],
    task_id: str,
    *,
    timeout: float,
    schedule: PollSchedule | None = None,
    on_update: Callable[[dict[str, Any]], None] = lambda task: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    current: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Poll until the task ends; return it if SUCCEEDED, else raise the typed error.

    ``current`` is a task object already fetched: if it is terminal no request is made.
    Any status other than SUCCEEDED, FAILED and CANCELLED counts as still in progress.
    """
    if current is not None:
        on_update(current)
        if current.get("status") in TERMINAL_STATUSES:
            raise_for_outcome(current)
            return current
    deadline = clock() + timeout
    task = current
    for delay in (schedule or PollSchedule()).delays():
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(delay, remaining))
        task = get_task(task_id)
        on_update(task)
        if task.get("status") in TERMINAL_STATUSES:
            raise_for_outcome(task)
            return task
    status = (task or {}).get("status", "unknown")
    raise WaitTimeoutError(
        f"Stopped waiting after {timeout:g}s; task {task_id} is still {status}.",
        task_id=task_id,
        task=task or {},
    )
