"""Showing tasks being followed: a Rich spinner (and upload bar) on a terminal, plain lines
with a heartbeat elsewhere."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from runway_cli.api.types import Task, TaskStatus
from runway_cli.render import can_animate, console, note, quiet, warn
from runway_cli.reporting import Reporter

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from runway_cli.api.types import RetryEvent

_STATE_WORDS = {
    TaskStatus.PENDING: "pending",
    TaskStatus.THROTTLED: "queued behind your concurrency limit",
    TaskStatus.RUNNING: "running",
    TaskStatus.SUCCEEDED: "succeeded",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}


def describe_state(task: Task) -> str:
    words = _STATE_WORDS.get(task.status, task.status_text.lower())
    if task.status is TaskStatus.RUNNING and task.progress is not None:
        words += f" {task.progress * 100:.0f}%"
    return words


HEARTBEAT_EVERY = 20.0  # seconds between plain "still waiting" lines (polls are <= 6 s apart)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class TalkingReporter(Reporter):
    """Notes, warnings and rate-limit waits as lines on stderr (every console reporter)."""

    def note(self, text: str) -> None:
        note(text)

    def warning(self, text: str, *, at_risk: bool = False) -> None:
        warn(text, at_risk=at_risk)

    def retrying(self, event: RetryEvent) -> None:
        if event.rate_limited:
            note(f"Rate limited by Runway; retrying in {event.wait:.0f} s.")


class ConsoleReporter(TalkingReporter):
    """Workflow events on stderr: a spinner and upload bar on a terminal, plain lines elsewhere.

    Use as a context manager so a live display is always stopped.
    """

    def __init__(
        self, *, label: str = "Generating", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.label = label
        self._clock = clock
        self._line_at: dict[str, float] = {}
        self.interactive = can_animate() and not quiet()
        self._progress: Progress | None = None
        self._kind = ""
        self._rows: dict[str, TaskID] = {}
        self._last: dict[str, TaskStatus] = {}
        self._started = clock()

    def __enter__(self) -> ConsoleReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._progress is not None:
            with contextlib.suppress(OSError, ValueError):
                self._progress.stop()
            self._progress = None
            self._rows.clear()

    def _live(self, kind: str) -> Progress:
        """The live display for ``kind`` ("wait" or "upload"); one at a time, as Rich needs."""
        if self._progress is not None and self._kind != kind:
            self._stop()
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TransferSpeedColumn,
            )

            columns = (
                (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
                if kind == "wait"
                else (
                    TextColumn("{task.description}"),
                    BarColumn(),
                    DownloadColumn(),
                    TransferSpeedColumn(),
                )
            )
            self._progress = Progress(*columns, console=console(), transient=True)
            self._progress.start()
            self._kind = kind
        return self._progress

    def uploading(self, label: str, done: int, total: int) -> None:
        if not self.interactive:
            return
        try:
            progress = self._live("upload")
            row = self._rows.get(label)
            if row is None:
                row = self._rows[label] = progress.add_task(escape(label), total=total)
            progress.update(row, completed=done, total=total)
            if done >= total:
                self._stop()
        except (OSError, ValueError):
            pass

    def created(self, task_id: str) -> None:
        note(f"Task {task_id} created.")

    def started(self, task_id: str) -> None:
        self._started = self._clock()
        self.progress(Task.placeholder(task_id))

    def progress(self, task: Task) -> None:
        state = describe_state(task)
        if self.interactive:
            self._spin(task, state)
        else:
            self._plain(task, state)
        self._last[task.id] = task.status

    def _plain(self, task: Task, state: str) -> None:
        """A line when the state changes, else a heartbeat so a CI log shows life: never more
        than one every HEARTBEAT_EVERY s, and (with polls at most 6 s apart) never a gap over
        30 s."""
        now = self._clock()
        since = now - self._line_at.get(task.id, -math.inf)
        changed = self._last.get(task.id) != task.status
        if changed or since >= HEARTBEAT_EVERY:
            note(f"task {task.id}: {state} ({_duration(now - self._started)})")
            self._line_at[task.id] = now

    def _spin(self, task: Task, state: str) -> None:
        try:
            if task.status.is_terminal:
                self._stop()  # the wait is over; saving prints its own lines
                return
            progress = self._live("wait")
            text = f"{escape(self.label)} · task {task.id} · {escape(state)}"
            row = self._rows.get(task.id)
            if row is None:
                self._rows[task.id] = progress.add_task(text, total=None)
            else:
                progress.update(row, description=text)
        except (OSError, ValueError):
            pass


def escape(text: str) -> str:
    """Rich markup escaped (imported here: only a live display on a terminal needs Rich)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)
