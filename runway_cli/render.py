"""Everything the user sees: messages, the wait display, task views, tables, JSON.

The only module that uses Rich. Data (paths, ids, JSON, status views) goes to stdout; talk
(progress, notes, warnings, errors) goes to stderr. Writing talk is best-effort: a closed or
full stderr never stops a wait or a download. On a terminal the wait shows a spinner;
elsewhere one plain line per state change and no control characters.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from runway_cli.api.types import Organization, Task, TaskStatus
from runway_cli.catalog import Model
from runway_cli.errors import APIError, FollowError, RunwayImgError, StdoutError
from runway_cli.reporting import Reporter

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from runway_cli.api.types import RetryEvent
    from runway_cli.history import Entry

_STATE_WORDS = {
    TaskStatus.PENDING: "pending",
    TaskStatus.THROTTLED: "queued behind your concurrency limit",
    TaskStatus.RUNNING: "running",
    TaskStatus.SUCCEEDED: "succeeded",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "cancelled",
}


class _TalkConsole(Console):
    """stderr for talk: when its reader goes away (``2>&1 | head``), stop talking and carry
    on. Rich's default would exit the process, losing a task that is paid for."""

    def on_broken_pipe(self) -> None:
        self.quiet = True


_err = _TalkConsole(stderr=True, highlight=False, soft_wrap=True)


def _talk(markup: str) -> None:
    """Print to stderr, best-effort: progress and notes must never cost a task."""
    with contextlib.suppress(OSError, ValueError):
        _err.print(markup)


_quiet = False


def configure(*, quiet: bool) -> None:
    """Quiet: nothing on stderr but errors and warnings that put a task or an image at risk."""
    global _quiet
    _quiet = quiet
    _err.quiet = False  # a new command run: talk again even if an earlier reader went away


def note(message: str) -> None:
    if not _quiet:
        _talk(escape(message))


def warn(message: str, *, at_risk: bool = False) -> None:
    """A warning; ``at_risk`` ones (a task id or a paid image at risk) survive ``--quiet``."""
    if not _quiet or at_risk:
        _talk(f"[yellow]warning:[/yellow] {escape(message)}")


def error_text(message: str) -> None:
    _talk(f"[bold red]error:[/bold red] {escape(message)}")


def error_line(exc: RunwayImgError) -> str:
    """What went wrong and what to do next, in one line (notes added on the way up last)."""
    parts = [exc.message]
    if exc.hint:
        parts.append(exc.hint)
    parts.extend(getattr(exc, "__notes__", ()))
    line = ""
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if line and not line.endswith((".", "!", "?", ":")):
            line += "."
        line = f"{line} {part}" if line else part
    return line


def error(exc: RunwayImgError) -> None:
    """One line: what went wrong and what to do next; then 400 issues, one per line."""
    error_text(error_line(exc))
    cause = exc.cause if isinstance(exc, FollowError) else exc
    if isinstance(cause, APIError):
        for issue in cause.issues:
            _talk(f"  - {escape(str(issue))}")


def data(line: str) -> None:
    """One line of data on stdout, flushed so pipes see it at once.

    A failing stdout is a ``StdoutError`` (the command layer says what was saved anyway).
    """
    stream = sys.stdout
    try:
        if stream is None:
            raise BrokenPipeError(9, "stdout is closed")
        stream.write(line + "\n")
        stream.flush()
    except BrokenPipeError:
        _silence_stdout()
        raise StdoutError("stdout was closed by the reader.", broken_pipe=True) from None
    except (OSError, ValueError) as exc:
        _silence_stdout()
        reason = getattr(exc, "strerror", None) or str(exc)
        raise StdoutError(f"Could not write to stdout: {reason}.", broken_pipe=False) from None


def write_bytes(path: Path) -> None:
    """A file's bytes on stdout (``-o -``); a failing stdout is a ``StdoutError``."""
    try:
        stream = sys.stdout.buffer
        with path.open("rb") as fh:
            while chunk := fh.read(64 * 1024):
                stream.write(chunk)
        stream.flush()
    except BrokenPipeError:
        _silence_stdout()
        raise StdoutError("stdout was closed by the reader.", broken_pipe=True) from None
    except (OSError, ValueError, AttributeError) as exc:
        _silence_stdout()
        reason = getattr(exc, "strerror", None) or str(exc)
        raise StdoutError(f"Could not write to stdout: {reason}.", broken_pipe=False) from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def print_json(obj: Any) -> None:
    data(json.dumps(obj, indent=2, ensure_ascii=False))


def is_terminal() -> bool:
    """stderr is really a terminal (not a pipe that FORCE_COLOR makes Rich treat as one):
    the only case for animation."""
    stream = sys.stderr
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):
        return False


class _ConsoleLogHandler(logging.Handler):
    """``-v`` request lines through the console, so they print above a live spinner."""

    def emit(self, record: logging.LogRecord) -> None:
        _talk(escape(self.format(record)))


def log_handler() -> logging.Handler:
    handler = _ConsoleLogHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    return handler


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


class ConsoleReporter(Reporter):
    """Workflow events on stderr: a spinner and upload bar on a terminal, plain lines elsewhere.

    Use as a context manager so a live display is always stopped.
    """

    def __init__(
        self, *, label: str = "Generating", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.label = label
        self._clock = clock
        self._line_at: dict[str, float] = {}
        self.interactive = is_terminal() and not _quiet
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
            self._progress = Progress(*columns, console=_err, transient=True)
            self._progress.start()
            self._kind = kind
        return self._progress

    def note(self, text: str) -> None:
        note(text)

    def warning(self, text: str, *, at_risk: bool = False) -> None:
        warn(text, at_risk=at_risk)

    def retrying(self, event: RetryEvent) -> None:
        if event.rate_limited:
            note(f"Rate limited by Runway; retrying in {event.wait:.0f} s.")

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


def task_view(task: Task) -> list[str]:
    """Human-readable lines for ``runway-img status``."""
    lines = [f"Task:     {task.id}", f"State:    {task.status_text} ({describe_state(task)})"]
    if task.created_at:
        lines.append(f"Created:  {task.created_at}")
    if task.credits is not None:
        label = "Cost:    " if task.credits_final else "Estimate:"
        lines.append(f"{label} {task.credits:g} credits")
    if task.failure is not None:
        lines.append(f"Failure:  {task.failure.message}")
        if task.failure.code:
            lines.append(f"Code:     {task.failure.code}")
    for n, url in enumerate(task.output_urls, start=1):
        lines.append(f"Output {n}: {url}")
    return lines


def history_lines(rows: list[Entry]) -> list[str]:
    """One line per task for ``runway-img history``."""
    lines = []
    for row in rows:
        prompt = (row.prompt or "").replace("\n", " ")
        if len(prompt) > 40:
            prompt = prompt[:39] + "…"
        files = f"  {', '.join(row.files)}" if row.files else ""
        noted = f"  ({row.note})" if row.note and row.id is None else ""
        lines.append(
            f"{row.id or '?' * 36}  {row.created}  {row.status:<9}  {row.model or '-'}  "
            f"{prompt}{files}{noted}"
        )
    return lines


def auth_lines(info: dict[str, Any]) -> list[str]:
    """``runway-img auth status`` as lines."""
    lines = [
        f"Key:     {info['key']} (from {info['source']})",
        f"Profile: {info.get('profile')} ({info.get('profileSource')})",
        f"API:     {info['baseUrl']}",
    ]
    if info["valid"]:
        lines.append(f"Valid:   yes (credit balance: {info.get('creditBalance')})")
    elif info["valid"] is None:
        lines.append("Valid:   unknown (the API could not be reached)")
    else:
        lines.append("Valid:   no")
    return lines


def credits_lines(org: Organization) -> list[str]:
    """``runway-img credits``: the balance, then one row per model."""
    balance = "unknown" if org.credit_balance is None else f"{org.credit_balance:,}"
    lines = [f"Credit balance: {balance}"]
    if org.max_monthly_spend is not None:
        lines.append(f"Monthly spend limit: {org.max_monthly_spend:,}")
    rows = [("MODEL", "CONCURRENT", "DAILY LIMIT", "USED TODAY")]
    for name, limits in org.models.items():
        rows.append(
            (
                name,
                "-" if limits.max_concurrent is None else str(limits.max_concurrent),
                "-" if limits.max_daily is None else str(limits.max_daily),
                str(limits.used_today),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return lines
