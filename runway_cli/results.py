"""The JSON objects commands print on stdout with ``--json`` (schemas in the README).

Pure functions from typed results to plain JSON values, so the schemas live in one place and
are tested directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runway_cli.api.types import Organization, Task, TaskStatus
from runway_cli.saving import SavedFile


@dataclass(frozen=True)
class TaskSummary:
    """What we know about a task beyond the API's answer (the API returns no model/prompt)."""

    id: str | None = None  # None until the task is created
    model: str | None = None
    ratio: str | None = None
    prompt: str | None = None


def task_result(
    summary: TaskSummary, task: Task | None, saved: Sequence[object] = ()
) -> dict[str, Any]:
    """``{"id", "status", "model", "ratio", "prompt", "output", "files", "cost"}``, plus
    ``failure`` and ``failureCode`` when the task failed."""
    result: dict[str, Any] = {
        "id": summary.id,
        "status": task.status_text if task is not None else None,
        "model": summary.model,
        "ratio": summary.ratio,
        "prompt": summary.prompt,
        "output": list(task.output_urls) if task is not None else [],
        "files": [str(item.path) for item in saved if isinstance(item, SavedFile)],
        "cost": task.credits if task is not None else None,
    }
    if task is not None and task.status is TaskStatus.FAILED:
        result["failure"] = task.failure.message if task.failure else None
        result["failureCode"] = task.failure.code if task.failure else None
    return result


def organization_result(org: Organization) -> dict[str, Any]:
    """``credits --json``: ``{"creditBalance", "maxMonthlyCreditSpend", "models": {id:
    {"maxConcurrentGenerations", "maxDailyGenerations", "dailyGenerations"}}}``."""
    return {
        "creditBalance": org.credit_balance,
        "maxMonthlyCreditSpend": org.max_monthly_spend,
        "models": {
            name: {
                "maxConcurrentGenerations": limits.max_concurrent,
                "maxDailyGenerations": limits.max_daily,
                "dailyGenerations": limits.used_today,
            }
            for name, limits in org.models.items()
        },
    }
