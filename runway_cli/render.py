"""Everything the user sees: the wait display, task views, JSON, warnings and errors.

Data (paths, ids, JSON, status views) goes to stdout; talk (progress, notes, warnings, errors)
goes to stderr. On a terminal the wait shows a Rich spinner; elsewhere one plain line per state
change and no control characters.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from runway_cli.errors import APIError, RunwayImgError

_STATE_WORDS = {
    "PENDING": "pending",
    "THROTTLED": "queued behind your concurrency limit",
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
}

_err = Console(stderr=True, highlight=False, soft_wrap=True)


def err_console() -> Console:
    return _err


def note(message: str) -> None:
    _err.print(escape(message))


def warn(message: str) -> None:
    _err.print(f"[yellow]warning:[/yellow] {escape(message)}")


def error(exc: RunwayImgError) -> None:
    """One line: what went wrong and what to do next; then 400 issues, one per line."""
    line = exc.message
    if exc.hint:
        line = f"{line} {exc.hint}"
    _err.print(f"[bold red]error:[/bold red] {escape(line)}")
    if isinstance(exc, APIError):
        for issue in exc.issues:
            _err.print(f"  - {escape(str(issue))}")


def data(line: str) -> None:
    """One line of data on stdout, flushed so pipes see it at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def print_json(obj: Any) -> None:
    data(json.dumps(obj, indent=2, ensure_ascii=False))


def describe_state(task: dict[str, Any]) -> str:
    status = str(task.get("status", "UNKNOWN"))
    words = _STATE_WORDS.get(status, status.lower())
    progress = task.get("progress")
    if status == "RUNNING" and isinstance(progress, int | float):
        words += f" {progress * 100:.0f}%"
    return words


class WaitDisplay:
    """Shows a task while we wait for it. Use as a context manager; call ``update(task)``."""

    def __init__(self, task_id: str, *, label: str = "Generating") -> None:
        self.task_id = task_id
        self.label = label
        self.interactive = _err.is_terminal
        self._last_status: str | None = None
        self._started = time.monotonic()
        self._progress: Progress | None = None
        self._bar: Any = None

    def __enter__(self) -> WaitDisplay:
        if self.interactive:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=_err,
                transient=True,
            )
            self._progress.start()
            self._bar = self._progress.add_task(self._text("pending"), total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _text(self, state: str) -> str:
        return f"{escape(self.label)} · task {self.task_id} · {escape(state)}"

    def update(self, task: dict[str, Any]) -> None:
        status = str(task.get("status", "UNKNOWN"))
        if self._progress is not None:
            self._progress.update(self._bar, description=self._text(describe_state(task)))
        elif status != self._last_status:
            elapsed = time.monotonic() - self._started
            _err.print(f"task {self.task_id}: {escape(describe_state(task))} ({elapsed:.0f}s)")
        self._last_status = status


class TransferDisplay:
    """A progress bar for an upload on a terminal; silent elsewhere."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._progress: Progress | None = None
        self._bar: Any = None

    def __enter__(self) -> TransferDisplay:
        if _err.is_terminal:
            from rich.progress import BarColumn, DownloadColumn, TransferSpeedColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=_err,
                transient=True,
            )
            self._progress.start()
            self._bar = self._progress.add_task(escape(self.label), total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress.update(self._bar, completed=done, total=total)


def task_view(task: dict[str, Any]) -> list[str]:
    """Human-readable lines for ``runway-img status``."""
    lines = [
        f"Task:     {task.get('id', '?')}",
        f"State:    {task.get('status', '?')} ({describe_state(task)})",
    ]
    if task.get("createdAt"):
        lines.append(f"Created:  {task['createdAt']}")
    cost = task.get("cost") or task.get("estimatedCost")
    if isinstance(cost, dict) and "credits" in cost:
        label = "Cost:    " if "cost" in task else "Estimate:"
        lines.append(f"{label} {cost['credits']:g} credits")
    if task.get("status") == "FAILED":
        lines.append(f"Failure:  {task.get('failure') or 'no reason given'}")
        if task.get("failureCode"):
            lines.append(f"Code:     {task['failureCode']}")
    for n, url in enumerate(task.get("output") or [], start=1):
        lines.append(f"Output {n}: {url}")
    return lines
