"""What a batch run adds up to: counts, credits, why it stopped, and its exit status.

Exit statuses, most important first: 130 interrupted; 7 service trouble (a create or a wait
Runway could not answer, or items whose create may have reached Runway: unknown); 8 saving
failed; 4 some items failed; 9 stopped early by the budget, the daily limit or the credit
balance (rerun to continue); 0 everything done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runway_cli.batch.events import ItemResult, ItemStatus, StopReason
from runway_cli.batch.items import BatchItem
from runway_cli.batch.manifest import ItemState
from runway_cli.errors import RunwayImgError
from runway_cli.exit_codes import ExitStatus, exit_status_for

_EARLY = (StopReason.BUDGET, StopReason.DAILY_LIMIT, StopReason.CREDITS)
_STOP_KINDS = {
    StopReason.BUDGET: "budget",
    StopReason.DAILY_LIMIT: "daily_limit",
    StopReason.CREDITS: "insufficient_credits",
}


@dataclass(frozen=True)
class ItemSummary:
    line: int
    key: str
    status: ItemStatus
    prompt: str
    model: str
    vary: dict[str, str]
    task_id: str | None
    files: tuple[str, ...]  # paths as saved (the output folder joined with the manifest's)
    cost: float | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "key": self.key,
            "status": self.status.value,
            "prompt": self.prompt,
            "model": self.model,
            "vary": self.vary,
            "taskId": self.task_id,
            "files": list(self.files),
            "cost": self.cost,
            "error": self.error,
        }


@dataclass(frozen=True)
class BatchSummary:
    output_dir: Path
    manifest: Path
    contact_sheet: Path | None
    items: tuple[ItemSummary, ...]
    images: int
    created: int  # tasks created by this run
    reattached: int  # tasks of earlier runs followed by this one
    skipped: int  # items already saved before this run
    spent: float  # credits over the whole manifest
    stopped_by: StopReason | None = None
    stop_text: str | None = None
    trouble: int = 0
    interrupted: bool = False
    fatal: RunwayImgError | None = None  # what stopped the run (the manifest could not be written)

    def count(self, status: ItemStatus) -> int:
        return sum(1 for item in self.items if item.status is status)

    @property
    def exit_status(self) -> ExitStatus:
        if self.fatal is not None:  # what the process exits with: the summary must agree
            return exit_status_for(self.fatal)
        if self.interrupted:
            return ExitStatus.INTERRUPTED
        if self.trouble or self.stopped_by is StopReason.SERVICE or self.count(ItemStatus.UNKNOWN):
            return ExitStatus.NETWORK
        if self.count(ItemStatus.SAVE_FAILED):
            return ExitStatus.SAVE_FAILED
        if self.count(ItemStatus.FAILED):
            return ExitStatus.TASK_FAILED
        if self.stopped_by in _EARLY or self.count(ItemStatus.QUEUED):
            return ExitStatus.STOPPED_EARLY
        return ExitStatus.OK

    def to_json(self) -> dict[str, Any]:
        """The ``batch --json`` object."""
        return {
            "outputDir": str(self.output_dir),
            "manifest": str(self.manifest),
            "contactSheet": str(self.contact_sheet) if self.contact_sheet else None,
            "tasks": len(self.items),
            "images": self.images,
            "done": self.count(ItemStatus.DONE),
            "failed": self.count(ItemStatus.FAILED),
            "saveFailed": self.count(ItemStatus.SAVE_FAILED),
            "unknown": self.count(ItemStatus.UNKNOWN),
            "running": self.count(ItemStatus.RUNNING),
            "notStarted": self.count(ItemStatus.QUEUED),
            "created": self.created,
            "reattached": self.reattached,
            "skipped": self.skipped,
            "credits": self.spent,
            "stoppedBy": self.stopped_by.value if self.stopped_by else None,
            "stopReason": self.stop_text,
            "exitCode": int(self.exit_status),
            "items": [item.to_json() for item in self.items],
            **({"error": self.error()} if self.exit_status else {}),
        }

    def error(self) -> dict[str, Any]:
        """The contract's ``error`` member when the run did not do everything."""
        status = self.exit_status
        kind = {
            ExitStatus.INTERRUPTED: "interrupted",
            ExitStatus.NETWORK: "network",
            ExitStatus.SAVE_FAILED: "save",
            ExitStatus.TASK_FAILED: "task_failed",
        }.get(status)
        if kind is None:
            kind = _STOP_KINDS.get(self.stopped_by, "budget") if self.stopped_by else "budget"
        left = self.count(ItemStatus.QUEUED) + self.count(ItemStatus.RUNNING)
        message = {
            ExitStatus.INTERRUPTED: "Interrupted; run the same command again to continue.",
            ExitStatus.NETWORK: "Runway could not answer for some items (see items[].error).",
            ExitStatus.SAVE_FAILED: "Some images could not be saved (see items[].error).",
            ExitStatus.TASK_FAILED: "Some items failed (see items[].error).",
        }.get(status, f"Stopped early: {self.stop_text} {left} items left; run it again.")
        return {"exitCode": int(status), "kind": kind, "message": message, "taskId": None}


def item_summaries(
    items: Sequence[BatchItem],
    statuses: dict[str, ItemStatus],
    states: Sequence[ItemState],
    output_dir: Path,
    ended: Mapping[str, ItemResult] | None = None,
) -> tuple[ItemSummary, ...]:
    """Each item of the plan with what the manifest says about it now, or how it ended in
    this run when the manifest could not be told (a full disk)."""
    by_key = {state.key: state for state in states}
    out = []
    for item in items:
        state = by_key.get(item.key)
        result = (ended or {}).get(item.key)
        if result is not None:
            out.append(_from_result(item, result))
            continue
        out.append(
            ItemSummary(
                line=item.line,
                key=item.key,
                status=statuses.get(item.key, ItemStatus.QUEUED),
                prompt=item.prompt,
                model=item.model,
                vary=dict(item.vary),
                task_id=state.task_id if state else None,
                files=tuple(str(output_dir / f) for f in state.files) if state else (),
                cost=state.cost if state else None,
                error=state.error if state else None,
            )
        )
    return tuple(out)


def _from_result(item: BatchItem, result: ItemResult) -> ItemSummary:
    return ItemSummary(
        line=item.line,
        key=item.key,
        status=result.status,
        prompt=item.prompt,
        model=item.model,
        vary=dict(item.vary),
        task_id=result.task_id,
        files=tuple(str(p) for p in result.files),
        cost=result.cost,
        error=result.error,
    )


@dataclass(frozen=True)
class DryRun:
    """What a run would do: tasks and images to create, credits where they can be known."""

    tasks: int
    images: int
    credits: float  # for the models whose cost is known from the manifest
    unknown_cost_models: tuple[str, ...]  # models whose first task tells their cost
    skipped: int
    reattach: int
    unknown: int
    failed: int

    def to_json(self) -> dict[str, Any]:
        return {
            "dryRun": True,
            "tasks": self.tasks,
            "images": self.images,
            "estimatedCredits": None if self.unknown_cost_models else self.credits,
            "knownCredits": self.credits,
            "unknownCostModels": list(self.unknown_cost_models),
            "skipped": self.skipped,
            "reattach": self.reattach,
            "unknown": self.unknown,
            "failed": self.failed,
        }
