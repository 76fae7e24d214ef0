"""The sandbox account: the limits ``GET /v1/organization`` reports, enforced.

- ``concurrency``: ``maxConcurrentGenerations`` per model. Tasks beyond it are accepted and sit
  THROTTLED in a FIFO queue until a slot frees (see ``lifecycle.py``).
- ``daily_limit``: ``maxDailyGenerations`` per model, over a rolling 24 hours. A create over it
  answers 429 ``{"error": "Your daily task limit has been reached."}``.
- ``credits``: the starting ``creditBalance``. Each task takes its estimated cost when created;
  a task that ends FAILED or CANCELLED (cost 0) gives it back. A create that would cost more
  than the balance answers 400 ``{"error": "You do not have enough credits to run this task."}``.

``None`` means no limit (reported as ``null``) for the two generation limits.

The account lives for one run of the server: the balance and the daily count cover the tasks
created since this ``Account`` was made (``since``), although the state file keeps tasks, and
their states, across runs. That is deliberate. ``runway-img --sandbox`` starts an in-process
server for every command with state in a persistent file; if spending counted every task
the file ever held, the default 10,000 credits would run out after about 2,000 tasks and every
later run would be refused for good, with no way to top up. Per run, a command can never
inherit a spent account or a used-up day; ``runway-img sandbox --credits N`` and the Python
API still enforce their limits for as long as the server runs (restart it to refill).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .catalog_data import models
from .lifecycle import Timeline, cost, start_times, status_of
from .store import TaskRow, TaskStore

DAILY_LIMIT_REACHED = "Your daily task limit has been reached."
NOT_ENOUGH_CREDITS = "You do not have enough credits to run this task."
DAY = 86400.0


@dataclass(frozen=True)
class AccountLimits:
    concurrency: int | None = 2
    daily_limit: int | None = 500
    credits: int = 10_000
    monthly_spend: int = 100_000  # maxMonthlyCreditSpend: reported only

    def __post_init__(self) -> None:
        for name in ("concurrency", "daily_limit", "credits", "monthly_spend"):
            value = getattr(self, name)
            optional = name in ("concurrency", "daily_limit")
            if value is None and optional:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                allowed = "a whole number >= 0" + (" or None (no limit)" if optional else "")
                raise ValueError(f"{name} must be {allowed}, not {value!r}")


class Refused(Exception):
    """A create the account does not allow; ``status`` and ``message`` are the API's answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Account:
    """Task states, the balance and usage, read from the store at the clock's ``now``."""

    def __init__(
        self,
        store: TaskStore,
        limits: AccountLimits,
        timeline: Timeline,
        clock: Callable[[], float],
        since: float | None = None,
    ) -> None:
        self.store = store
        self.limits = limits
        self.timeline = timeline
        self.clock = clock
        self.since = clock() if since is None else since  # the start of this run

    def _window(self) -> float:
        """Tasks created from this moment on count toward the daily cap: a rolling day,
        within this run."""
        return max(self.since, self.clock() - DAY)

    def status(self, row: TaskRow) -> tuple[str, float]:
        """``(status, progress)`` of one task now, behind the tasks queued before it."""
        starts = start_times(self.store.queue(row.model, through=row.seq), self.timeline)
        return status_of(row, self.clock(), self.timeline, starts[row.id])

    def _statuses(self, rows: Iterable[TaskRow]) -> list[tuple[TaskRow, str]]:
        queues: dict[str, list[TaskRow]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: r.seq):
            queues[row.model].append(row)
        now = self.clock()
        result = []
        for queue in queues.values():
            starts = start_times(queue, self.timeline)
            result += [(r, status_of(r, now, self.timeline, starts[r.id])[0]) for r in queue]
        return result

    def balance(self, rows: Iterable[TaskRow] | None = None) -> int:
        rows = self.store.all_tasks() if rows is None else rows
        ours = [row for row in rows if row.created >= self.since]
        spent = sum(cost(row, status) for row, status in self._statuses(ours))
        return max(0, self.limits.credits - spent)

    def admit(self, model: str, credits: int) -> Callable[[list[TaskRow]], None]:
        """A check for ``TaskStore.create``: raises Refused when the new task is over a limit."""

        def check(rows: list[TaskRow]) -> None:
            daily = self.limits.daily_limit
            if daily is not None:
                since = self._window()
                if sum(1 for r in rows if r.model == model and r.created >= since) >= daily:
                    raise Refused(429, DAILY_LIMIT_REACHED)
            if credits > self.balance(rows):
                raise Refused(400, NOT_ENOUGH_CREDITS)

        return check

    def organization(self) -> dict[str, Any]:
        """The ``GET /v1/organization`` answer (integers, as the spec says)."""
        limits = {
            "maxConcurrentGenerations": self.limits.concurrency,
            "maxDailyGenerations": self.limits.daily_limit,
        }
        rows = self.store.all_tasks()
        since = self._window()
        daily: dict[str, int] = defaultdict(int)
        for row in rows:
            if row.created >= since:
                daily[row.model] += 1
        return {
            "creditBalance": self.balance(rows),
            "tier": {
                "maxMonthlyCreditSpend": self.limits.monthly_spend,
                "models": {m: dict(limits) for m in models()},
            },
            "usage": {"models": {m: {"dailyGenerations": n} for m, n in sorted(daily.items())}},
        }
