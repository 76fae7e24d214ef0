"""What to write in the manifest when an item's create is sent, and when following its task
ends: success, FAILED or CANCELLED, saving failed, or trouble (a wait that failed or timed
out; the task exists and a rerun reattaches). Pure functions from typed outcomes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runway_cli.api.types import Task
from runway_cli.batch.events import ItemStatus
from runway_cli.batch.items import BatchItem
from runway_cli.batch.manifest import Record
from runway_cli.errors import (
    RunwayImgError,
    SaveError,
    TaskError,
    TaskFailedError,
    WaitTimeoutError,
)
from runway_cli.saving import SavedFile
from runway_cli.workflow import Outcome


@dataclass(frozen=True)
class Ending:
    """How following an item's task ended, as a record and a status."""

    record: Record
    status: ItemStatus
    files: tuple[str, ...] = ()  # relative to the output folder
    cost: float | None = None
    error: str | None = None

    @property
    def task_ended(self) -> bool:
        """The task ended on Runway (its cost is spent); else it still runs there."""
        return self.record.event == "finished"


def sent(item: BatchItem) -> Record:
    """Written before the create request: a create with no later record is unknown."""
    return Record(
        "sent",
        item.key,
        item.line,
        model=item.model,
        prompt=item.prompt,
        ratio=item.ratio,
        seed=item.seed,
        images=item.images,
    )


def succeeded(item: BatchItem, task_id: str, outcome: Outcome, folder: Path) -> Ending:
    cost = _final_cost(outcome.task)
    files = relative(outcome.saved, folder)
    record = Record(
        "finished", item.key, item.line, status="SUCCEEDED", id=task_id, cost=cost, files=files
    )
    return Ending(record, ItemStatus.DONE, files, cost)


def failed(item: BatchItem, task_id: str, exc: RunwayImgError, folder: Path) -> Ending:
    """Following failed: the task FAILED or was CANCELLED, saving failed, or the wait did."""
    if isinstance(exc, TaskError) and not isinstance(exc, WaitTimeoutError):
        task = exc.task
        cost = _final_cost(task)
        status = "FAILED" if isinstance(exc, TaskFailedError) else "CANCELLED"
        code = task.failure.code if task is not None and task.failure else None
        record = Record(
            "finished",
            item.key,
            item.line,
            status=status,
            id=task_id,
            cost=cost,
            error=exc.message,
            failure_code=code,
        )
        return Ending(record, ItemStatus.FAILED, (), cost, exc.message)
    if isinstance(exc, SaveError):
        cost = _final_cost(exc.task)
        files = relative(exc.saved, folder)
        record = Record(
            "finished",
            item.key,
            item.line,
            status="SUCCEEDED",
            id=task_id,
            cost=cost,
            files=files,
            error=exc.message,
        )
        return Ending(record, ItemStatus.SAVE_FAILED, files, cost, exc.message)
    record = Record("trouble", item.key, item.line, id=task_id, error=exc.message)
    return Ending(record, ItemStatus.RUNNING, error=exc.message)


def relative(saved: Sequence[object], folder: Path) -> tuple[str, ...]:
    """Saved files' paths relative to the output folder (the manifest and the contact sheet
    keep working when the folder is moved)."""
    return tuple(
        os.path.relpath(item.path, folder) for item in saved if isinstance(item, SavedFile)
    )


def _final_cost(task: Task | None) -> float | None:
    return task.credits if task is not None and task.credits_final else None
