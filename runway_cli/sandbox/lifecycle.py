"""A sandbox task's life, derived from time: queued, PENDING, RUNNING, then how it ends.

Nothing here is stored or ticks in the background. A task's status at time ``now`` follows
from its row (creation time, markers, the timeline and concurrency limit in force when it was
created, when it was deleted) and from the tasks of the same model ahead of it:

- Each model has ``slots`` concurrent generations (the account's ``maxConcurrentGenerations``).
  Tasks take slots in creation order (FIFO). A task that finds every slot taken is THROTTLED
  until one frees, then runs its whole timeline from that moment: PENDING for
  ``timeline.pending`` seconds, then RUNNING for ``timeline.running``.
- A task holds its slot from its start until it ends, or until ``DELETE`` aborts it. A task
  aborted while still queued never holds one. A hanging task holds its slot for a normal
  task's time, then keeps RUNNING without one (so abandoned hangs never block a model).

``start_times`` replays the queue; ``status_of`` reads one task's state off its timeline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from .markers import failure
from .store import TaskRow

PENDING, THROTTLED, RUNNING = "PENDING", "THROTTLED", "RUNNING"
SUCCEEDED, FAILED, CANCELLED = "SUCCEEDED", "FAILED", "CANCELLED"
IN_PROGRESS = frozenset({PENDING, THROTTLED, RUNNING})


@dataclass(frozen=True)
class Timeline:
    """How long a sandbox task spends PENDING, then RUNNING, once it has a slot."""

    pending: float = 0.4
    running: float = 1.6

    @classmethod
    def of_task(cls, seconds: float) -> Timeline:
        """A task of ``seconds`` in all, as ``runway-img sandbox`` runs them: 20% PENDING,
        then 80% RUNNING (ValueError unless 0 < seconds < infinity)."""
        if not 0 < seconds < math.inf:
            raise ValueError(f"task_seconds must be a positive number, not {seconds!r}")
        return cls(pending=seconds * 0.2, running=seconds * 0.8)


def timeline_of(row: TaskRow, default: Timeline) -> Timeline:
    """The timeline stored with the task (older state files: the reader's)."""
    if row.pending is None or row.running is None:
        return default
    return Timeline(pending=row.pending, running=row.running)


def _waiting(row: TaskRow, timeline: Timeline) -> float:
    """Seconds from its start until it would run: ``[sandbox:throttle]`` waits twice as long."""
    return timeline.pending * (2 if row.behaviour == "throttle" else 1)


def _ends_before_running(row: TaskRow) -> bool:
    if row.behaviour == "cancel":
        return True
    return row.behaviour == "fail" and failure(row.failure_code).before_running


def duration(row: TaskRow, timeline: Timeline) -> float:
    """Seconds from its start until it ends by itself (infinite for ``[sandbox:hang]``)."""
    if row.behaviour == "hang":
        return math.inf
    if _ends_before_running(row):
        return _waiting(row, timeline)
    return _waiting(row, timeline) + timeline.running


def _hold(row: TaskRow, start: float, timeline: Timeline) -> float:
    """When the task gives its slot back."""
    held = duration(row, timeline)
    if math.isinf(held):  # a hanging task holds its slot for a normal task's time
        held = _waiting(row, timeline) + timeline.running
    end = start + held
    return end if row.deleted_at is None else min(end, row.deleted_at)


def _first_free(busy: list[float], ready: float, slots: int | None) -> float:
    """The first moment from ``ready`` at which fewer than ``slots`` of the ``busy`` slots
    (their end times) are still held."""
    if slots is not None and slots <= 0:
        return math.inf  # maxConcurrentGenerations 0: nothing of this model ever runs
    held = sorted(end for end in busy if end > ready)
    if slots is None or len(held) < slots:
        return ready
    return held[len(held) - slots]  # when enough of them have ended


def start_times(queue: Iterable[TaskRow], default: Timeline) -> dict[str, float]:
    """When each task of one model's FIFO queue (in insertion order) got a slot."""
    busy: list[float] = []  # when each slot taken so far is given back
    previous = -math.inf  # FIFO: nobody starts before the task ahead of it
    starts: dict[str, float] = {}
    for row in queue:
        start = _first_free(busy, max(row.created, previous), row.slots)
        starts[row.id] = start
        if row.deleted_at is not None and row.deleted_at <= start:
            continue  # aborted while queued: never held a slot, holds nobody back
        busy = [end for end in busy if end > start]  # later tasks start no earlier
        busy.append(_hold(row, start, timeline_of(row, default)))
        previous = start
    return starts


def aborted(row: TaskRow, start: float, default: Timeline) -> bool:
    """Deleted before it ended: CANCELLED, costs nothing."""
    if row.deleted_at is None:
        return False
    return row.deleted_at < start + duration(row, timeline_of(row, default))


def status_of(
    row: TaskRow, now: float, default: Timeline, start: float | None = None
) -> tuple[str, float]:
    """``(status, progress)`` of a task at ``now``, given when it got a slot (default: at
    once, as with no concurrency limit)."""
    start = row.created if start is None else start
    if aborted(row, start, default):
        return CANCELLED, 0.0
    if now < start:
        return (THROTTLED if start > row.created else PENDING), 0.0
    timeline = timeline_of(row, default)
    elapsed = now - start
    waiting = _waiting(row, timeline)
    if elapsed < waiting:
        if row.behaviour == "throttle" and elapsed >= timeline.pending / 2:
            return THROTTLED, 0.0
        return PENDING, 0.0
    if _ends_before_running(row):
        return (CANCELLED if row.behaviour == "cancel" else FAILED), 0.0
    return _running_or_done(row, elapsed - waiting, timeline)


def _running_or_done(row: TaskRow, ran: float, timeline: Timeline) -> tuple[str, float]:
    if row.behaviour == "hang" or ran < timeline.running:
        progress = min(ran / timeline.running, 0.99) if timeline.running else 0.0
        return RUNNING, round(progress, 2)
    return (FAILED if row.behaviour == "fail" else SUCCEEDED), 1.0


def cost(row: TaskRow, status: str) -> int:
    """Credits the task takes from the balance: its estimate while it may still succeed, its
    final cost once it ended (FAILED and CANCELLED tasks are refunded: cost 0)."""
    return 0 if status in (FAILED, CANCELLED) else row.credits
