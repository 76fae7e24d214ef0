"""What a batch tells its display: counts, each item as it ends, why it stops.

``BatchReporter`` extends the workflow's ``Reporter`` (whose events each name their task), so
one display follows every task of the batch. Its methods may be called from several threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from runway_cli.reporting import Reporter


class ItemStatus(StrEnum):
    QUEUED = "queued"  # not created yet (at the end: left undone)
    RUNNING = "running"  # the task exists and has not ended (at the end: a rerun reattaches)
    DONE = "done"
    FAILED = "failed"  # FAILED, CANCELLED, or the create was refused
    SAVE_FAILED = "save_failed"
    UNKNOWN = "unknown"  # the create may have reached Runway; never resent by itself


class StopReason(StrEnum):
    BUDGET = "budget"  # --max-credits
    DAILY_LIMIT = "daily_limit"  # 429: the daily generation limit
    CREDITS = "credits"  # 400: not enough credits on the account
    SERVICE = "service"  # Runway refused or could not take creates
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM
    FATAL = "fatal"  # the key was refused, or the manifest cannot be written


@dataclass(frozen=True)
class Counts:
    """Items by status, and credits (spent over the whole manifest, and in flight)."""

    total: int
    queued: int
    running: int
    done: int
    failed: int
    unknown: int
    spent: float
    in_flight: float
    to_do: int  # items this run set out to finish
    finished: int  # of those, how many have ended (either way)


@dataclass(frozen=True)
class ItemResult:
    """One item that ended in this run (or could not be started)."""

    line: int
    key: str
    prompt: str
    model: str
    status: ItemStatus
    task_id: str | None = None
    files: tuple[Path, ...] = ()
    cost: float | None = None
    error: str | None = None


class BatchReporter(Reporter):
    """Receives batch events as well as each task's workflow events. Does nothing here."""

    def counts(self, counts: Counts) -> None:
        """The numbers changed."""

    def item_finished(self, result: ItemResult) -> None:
        """An item ended in this run: done, failed, or unknown."""

    def stopping(self, reason: StopReason, text: str) -> None:
        """No more tasks will be created; ``text`` says why and what happens next."""
