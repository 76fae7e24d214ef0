"""Properties of the concurrency queue the sandbox derives from time (``lifecycle.py``).

Random queues of one model (arrivals, markers, deletes, limits), checked against rules written
out here: never more tasks holding slots than the limit, first in first out, nobody waits while
a slot is free, and what a task was at a past moment never changes when later deletes happen
(so every process reading the state file, at any time, tells the same story).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runway_cli.sandbox.lifecycle import IN_PROGRESS, Timeline, start_times, status_of
from runway_cli.sandbox.store import TaskRow

TIMELINE = Timeline(pending=1.0, running=4.0)
BEHAVIOURS = ["succeed", "succeed", "fail", "cancel", "hang", "throttle", "no-output"]
EARLY_FAILURE = "SAFETY.INPUT.TEXT"


def row(i: int, created: float, behaviour: str, code: str | None, slots: int | None,
        deleted_at: float | None) -> TaskRow:  # fmt: skip
    return TaskRow(
        id=f"t{i}",
        seq=i,
        created=created,
        model="gen4_image",
        prompt="",
        width=8,
        height=8,
        outputs=1,
        format="png",
        behaviour=behaviour,
        failure_code=code,
        credits=5,
        pending=None,
        running=None,
        slots=slots,
        deleted_at=deleted_at,
    )


@st.composite
def queues(draw: Any) -> list[TaskRow]:
    slots = draw(st.sampled_from([None, 1, 2, 3]))
    count = draw(st.integers(1, 12))
    created = 0.0
    rows = []
    for i in range(count):
        created += draw(st.sampled_from([0.0, 0.5, 1.0, 3.0]))
        behaviour = draw(st.sampled_from(BEHAVIOURS))
        code = None
        if behaviour == "fail":
            code = draw(st.sampled_from(["INTERNAL.BAD_OUTPUT.CODE01", EARLY_FAILURE]))
        deleted_at = None
        if draw(st.booleans()) and draw(st.booleans()):
            deleted_at = created + draw(st.sampled_from([0.0, 0.5, 2.0, 6.0, 30.0]))
        rows.append(row(i, created, behaviour, code, slots, deleted_at))
    return rows


def hold_end(task: TaskRow, start: float) -> float:
    """When a started task gives its slot back, spelled out independently of the sandbox."""
    waiting = TIMELINE.pending * (2 if task.behaviour == "throttle" else 1)
    ends_early = task.behaviour == "cancel" or task.failure_code == EARLY_FAILURE
    end = start + waiting + (0.0 if ends_early else TIMELINE.running)
    return end if task.deleted_at is None else min(end, task.deleted_at)


def held_at(moment: float, tasks: list[TaskRow], starts: dict[str, float]) -> int:
    return sum(1 for t in tasks if starts[t.id] <= moment < hold_end(t, starts[t.id]))


@settings(max_examples=100, deadline=None)
@given(queues())
def test_the_queue_keeps_the_limit_the_order_and_wastes_no_slot(rows: list[TaskRow]) -> None:
    starts = start_times(rows, TIMELINE)
    started = [t for t in rows if t.deleted_at is None or t.deleted_at > starts[t.id]]
    slots = rows[0].slots
    previous = -math.inf
    for task in started:
        start = starts[task.id]
        assert start >= task.created and start >= previous  # first in, first out
        if slots is not None:
            assert held_at(start, started, starts) <= slots
        # Waiting is only ever for a full set of slots (or for the task ahead, FIFO).
        ready = max(task.created, previous)
        ahead = [t for t in started if t.seq < task.seq]
        moments = [ready] + [hold_end(t, starts[t.id]) for t in ahead]
        for moment in moments:
            if ready <= moment < start:
                assert slots is not None and held_at(moment, ahead, starts) >= slots
        previous = start


@settings(max_examples=100, deadline=None)
@given(queues(), st.sampled_from([0.0, 0.75, 2.0, 5.5, 9.0, 20.0, 60.0]))
def test_a_later_delete_never_rewrites_the_past(rows: list[TaskRow], moment: float) -> None:
    # What a process saw at ``moment`` (deletes after it had not happened yet) ...
    then = [r if r.deleted_at is None or r.deleted_at <= moment else _undeleted(r) for r in rows]
    starts_then = start_times(then, TIMELINE)
    # ... and what any process reading the file later computes for that moment.
    starts_now = start_times(rows, TIMELINE)
    for before, after in zip(then, rows, strict=True):
        if after.deleted_at is not None or moment < after.created:
            continue  # gone from the API (nobody can read it any more), or not there yet
        seen = status_of(before, moment, TIMELINE, starts_then[before.id])
        assert status_of(after, moment, TIMELINE, starts_now[after.id]) == seen


def _undeleted(task: TaskRow) -> TaskRow:
    return dataclasses.replace(task, deleted_at=None)


@given(queues())
def test_without_a_limit_nobody_is_throttled_for_the_limit(rows: list[TaskRow]) -> None:
    free = [dataclasses.replace(r, slots=None) for r in rows]
    starts = start_times(free, TIMELINE)
    assert all(starts[r.id] == r.created for r in free)
    for r in free:
        status, _ = status_of(r, r.created, TIMELINE, starts[r.id])
        assert status in IN_PROGRESS | {"CANCELLED"}
