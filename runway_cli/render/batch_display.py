"""Showing a batch: one live display on a terminal, plain lines elsewhere, and the summary.

On a terminal: one Rich progress line (done / running, throttled / queued / failed, credits,
ETA); failures and warnings print above it. Elsewhere: one line per item that
ends, one per stop, and a heartbeat with the counts at most every ``HEARTBEAT_EVERY`` seconds,
with no control characters. Every method may be called from several threads.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from runway_cli.api.types import Task, TaskStatus
from runway_cli.batch.events import BatchReporter, Counts, ItemResult, ItemStatus, StopReason
from runway_cli.render import can_animate, console, detail, note, quiet, warn
from runway_cli.render.console_reporter import TalkingReporter

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from runway_cli.batch.lines import Problem
    from runway_cli.batch.summary import BatchSummary, DryRun

HEARTBEAT_EVERY = 20.0


def counts_text(counts: Counts, throttled: int = 0) -> str:
    """``12 done · 8 running (3 throttled) · 20 queued · 1 failed · 60 credits``."""
    running = f"{counts.running} running"
    if throttled:
        running += f" ({throttled} throttled)"
    parts = [f"{counts.done} done", running, f"{counts.queued} queued"]
    if counts.failed:
        parts.append(f"{counts.failed} failed")
    if counts.unknown:
        parts.append(f"{counts.unknown} unknown")
    credits = f"{counts.spent:g} credits"
    if counts.in_flight:
        credits += f" (+{counts.in_flight:g} in flight)"
    parts.append(credits)
    return " · ".join(parts)


def item_line(result: ItemResult) -> str:
    """One line for an item that ended."""
    head = f"line {result.line}"
    if result.status is ItemStatus.DONE:
        files = ", ".join(str(f) for f in result.files)
        return f"{head} done: {files}"
    if result.status is ItemStatus.UNKNOWN:
        return f"{head} unknown (the create may have reached Runway): {result.error}"
    if result.status is ItemStatus.RUNNING:
        return f"{head} not finished (task {result.task_id}; a rerun reattaches): {result.error}"
    what = "saving failed" if result.status is ItemStatus.SAVE_FAILED else "failed"
    task = f" (task {result.task_id})" if result.task_id else ""
    return f"{head} {what}{task}: {result.error}"


class BatchDisplay(TalkingReporter, BatchReporter):
    """The batch's events on stderr. Use as a context manager so a live display stops."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interactive = can_animate() and not quiet()
        self._clock = clock
        self._lock = threading.RLock()
        self._progress: Progress | None = None
        self._row: TaskID | None = None
        self._throttled: set[str] = set()
        self._counts: Counts | None = None
        self._line_at = clock()

    def __enter__(self) -> BatchDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            if self._progress is not None:
                with contextlib.suppress(OSError, ValueError):
                    self._progress.stop()
                self._progress = None

    def _live(self) -> Progress:
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                BarColumn(bar_width=16),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TextColumn("· ETA"),
                TimeRemainingColumn(compact=True, elapsed_when_finished=True),
                console=console(),
                transient=False,
            )
            self._progress.start()
            self._row = self._progress.add_task("", total=None)
        return self._progress

    # -- workflow events ------------------------------------------------------------------------

    def progress(self, task: Task) -> None:
        with self._lock:
            if task.status is TaskStatus.THROTTLED:
                self._throttled.add(task.id)
            else:
                self._throttled.discard(task.id)
        if self._counts is not None and self.interactive:
            self.counts(self._counts)

    # -- batch events ---------------------------------------------------------------------------

    def counts(self, counts: Counts) -> None:
        with self._lock:
            self._counts = counts
            text = counts_text(counts, len(self._throttled))
            if self.interactive:
                with contextlib.suppress(OSError, ValueError):
                    progress = self._live()
                    assert self._row is not None
                    total = counts.to_do or None
                    progress.update(
                        self._row, description=escape(text), completed=counts.finished, total=total
                    )
                return
            now = self._clock()
            if now - self._line_at >= HEARTBEAT_EVERY:
                self._line_at = now
                note(text)

    def item_finished(self, result: ItemResult) -> None:
        if self.interactive and result.status is ItemStatus.DONE:
            return  # the counts say it; the contact sheet shows it
        line = item_line(result)
        if result.status is ItemStatus.DONE:
            note(line)
        else:
            warn(line, at_risk=result.status in (ItemStatus.UNKNOWN, ItemStatus.RUNNING))

    def stopping(self, reason: StopReason, text: str) -> None:
        if reason is StopReason.INTERRUPTED:
            warn(text, at_risk=True)
        else:
            warn(f"No more tasks will be created. {text}")


def problem_lines(problems: Sequence[Problem]) -> None:
    """Every bad line of a batch, one per line on stderr (even with -q: they are the error)."""
    for problem in problems:
        detail(str(problem))


def dry_run_lines(dry: DryRun) -> list[str]:
    images = f"{dry.images} image{'s' if dry.images != 1 else ''}"
    lines = [f"Would create {dry.tasks} task{'s' if dry.tasks != 1 else ''} ({images})."]
    if dry.unknown_cost_models:
        known = f"{dry.credits:g} credits known, plus " if dry.credits else ""
        models = ", ".join(dry.unknown_cost_models)
        lines.append(
            f"Estimated cost: {known}the cost of {models}, unknown until its first task "
            "answers (--max-credits stops before the budget is passed)."
        )
    else:
        lines.append(f"Estimated cost: about {dry.credits:g} credits.")
    extra = (
        (dry.skipped, "already done (skipped)"),
        (dry.reattach, "created before, to follow and download"),
        (dry.unknown, "unknown (never resent without --resend-unknown)"),
        (dry.failed, "failed before (retried with --retry-failed)"),
    )
    lines += [f"{n} {what}." for n, what in extra if n]
    lines.append("Dry run: nothing was sent and no task was created.")
    return lines


def summary_lines(summary: BatchSummary) -> list[str]:
    """What the run adds up to, for stderr."""
    c = summary.count
    parts = [f"{c(ItemStatus.DONE)} done"]
    for status, word in (
        (ItemStatus.FAILED, "failed"),
        (ItemStatus.SAVE_FAILED, "not saved"),
        (ItemStatus.UNKNOWN, "unknown"),
        (ItemStatus.RUNNING, "still running"),
        (ItemStatus.QUEUED, "not started"),
    ):
        if c(status):
            parts.append(f"{c(status)} {word}")
    lines = [
        f"{len(summary.items)} items: {', '.join(parts)} · {summary.spent:g} credits spent "
        f"(manifest {summary.manifest})."
    ]
    if summary.contact_sheet is not None:
        lines.append(f"Contact sheet: {summary.contact_sheet}")
    if summary.stopped_by is not None and summary.stop_text and not summary.interrupted:
        lines.append(f"Stopped early: {summary.stop_text}")
    left = c(ItemStatus.QUEUED) + c(ItemStatus.RUNNING)
    if left:
        lines.append(f"{left} items left: run the same command again to continue.")
    if c(ItemStatus.UNKNOWN):
        which = ", ".join(str(i.line) for i in summary.items if i.status is ItemStatus.UNKNOWN)
        lines.append(
            f"Lines {which}: the create may have reached Runway but no task id was recorded; "
            "check `runway-img history` and the dashboard, then --resend-unknown to create "
            "them again."
        )
    return lines


def escape(text: str) -> str:
    """Rich markup escaped (imported here: only a live display on a terminal needs Rich)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)
