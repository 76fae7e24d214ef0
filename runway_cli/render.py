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

from runway_cli.catalog import Model
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
        stop = "" if line.endswith((".", "!", "?", ":")) else "."
        line = f"{line}{stop} {exc.hint}"
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
    if status == "RUNNING" and isinstance(progress, int | float) and not isinstance(progress, bool):
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


def _refs_text(model: Model) -> str:
    refs = model.reference_images
    if refs is None:
        return "-"
    high = "any" if refs.max is None else str(refs.max)
    return f"{refs.min}-{high}"


def models_table(models: list[Model]) -> list[str]:
    """One line per model for ``runway-img models``."""
    rows = [("MODEL", "PROMPT", "REFS", "OUTPUTS", "FORMATS", "RATIOS")]
    for m in models:
        rows.append(
            (
                m.id,
                str(m.prompt_max) if m.prompt_max is not None else "?",
                _refs_text(m),
                m.output_count.describe() if m.output_count else "1",
                ",".join(m.output_formats)
                if m.output_formats
                else ("svg" if m.output_kind == "vector" else "png"),
                str(len(m.ratio.values)) + ("+free" if m.ratio.freeform else ""),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


def model_detail(model: Model) -> list[str]:
    """Everything about one model for ``runway-img models ID``."""
    lines = [f"Model:    {model.id}"]
    limit = (
        f"{model.prompt_max} UTF-16 code units"
        if model.prompt_max is not None
        else "not documented (the server decides)"
    )
    lines.append(f"Prompt:   {model.prompt_min}-{model.prompt_max or '?'} ({limit})")
    default = model.ratio.default or "(none: ratio is optional)"
    lines.append(f"Ratio:    default {default}{'' if model.ratio.required else ', optional'}")
    for i in range(0, len(model.ratio.values), 8):
        lines.append("          " + "  ".join(model.ratio.values[i : i + 8]))
    if model.ratio.freeform:
        lines.append(
            f"          or any WIDTH:HEIGHT with {model.ratio.freeform_min_pixels:,}-"
            f"{model.ratio.freeform_max_pixels:,} pixels"
        )
    refs = model.reference_images
    if refs is None:
        lines.append("Refs:     none")
    else:
        extras = []
        if "tag" in refs.fields:
            extras.append("tags (TAG=FILE)")
        if "subject" in refs.fields:
            limits = ", ".join(f"{n} {s}" for s, n in refs.subject_limits.items())
            extras.append(f"subjects @human/@object (at most {limits})")
        lines.append(f"Refs:     {_refs_text(model)}{'; ' + '; '.join(extras) if extras else ''}")
    lines.append(
        f"Outputs:  {model.output_count.describe() if model.output_count else '1 (no --count)'}"
    )
    if model.output_formats:
        lines.append(
            f"Formats:  {', '.join(model.output_formats)} (default {model.default_output_format})"
        )
    elif model.output_kind == "vector":
        lines.append("Formats:  svg")
    for name, p in model.params.items():
        if p.type == "enum":
            what = " | ".join(p.values)
        elif p.type == "int" and p.min is not None:
            what = f"integer {p.min}-{p.max}"
        else:
            what = p.type.replace("_", " ")
        option = {
            "seed": "--seed",
            "contentModeration.publicFigureThreshold": "--public-figures",
        }.get(name, f"-p {name}=")
        lines.append(f"Param:    {name}: {what}  ({option})")
    if model.notes:
        lines.append(f"Notes:    {model.notes}")
    if model.source != "openapi+sdk":
        lines.append("Source:   SDK only; limits may be incomplete")
    return lines


def task_view(task: dict[str, Any]) -> list[str]:
    """Human-readable lines for ``runway-img status``."""
    lines = [
        f"Task:     {task.get('id', '?')}",
        f"State:    {task.get('status', '?')} ({describe_state(task)})",
    ]
    if task.get("createdAt"):
        lines.append(f"Created:  {task['createdAt']}")
    cost = task.get("cost") or task.get("estimatedCost")
    if isinstance(cost, dict) and isinstance(cost.get("credits"), int | float):
        label = "Cost:    " if "cost" in task else "Estimate:"
        lines.append(f"{label} {cost['credits']:g} credits")
    if task.get("status") == "FAILED":
        lines.append(f"Failure:  {task.get('failure') or 'no reason given'}")
        if task.get("failureCode"):
            lines.append(f"Code:     {task['failureCode']}")
    for n, url in enumerate(task.get("output") or [], start=1):
        lines.append(f"Output {n}: {url}")
    return lines
