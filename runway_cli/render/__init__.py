"""Everything the user sees, and the only code that uses Rich.

Data (paths, ids, JSON, status views) goes to stdout; talk (progress, notes, warnings, errors)
goes to stderr. Writing talk is best-effort: a closed or full stderr never stops a wait or a
download. This module holds the messages and the stdout writers; ``console_reporter`` shows a
task being followed (a spinner on a terminal, plain lines elsewhere) and ``views`` formats
tasks, models, history and credits as lines.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runway_cli.errors import APIError, FollowError, RunwayImgError, StdoutError
from runway_cli.quietness import is_quiet

if TYPE_CHECKING:
    from rich.console import Console

_console: Console | None = None
_plain_stopped = False  # plain talk: the reader of stderr went away


def console() -> Console:
    """The Rich console for stderr, made (and Rich imported) on first use: only terminals and
    FORCE_COLOR need it, so scripts and CI never pay for importing Rich."""
    global _console
    if _console is None:
        from rich.console import Console

        class _TalkConsole(Console):
            """When its reader goes away (``2>&1 | head``), stop talking and carry on;
            Rich's default would exit the process, losing a task that is paid for."""

            def on_broken_pipe(self) -> None:
                self.quiet = True

        _console = _TalkConsole(stderr=True, highlight=False, soft_wrap=True)
    return _console


def _styled() -> bool:
    """Colour on stderr is possible: it is a terminal, or FORCE_COLOR asks for it anyway."""
    if os.environ.get("FORCE_COLOR"):
        return True
    return is_terminal()


def _talk(text: str, *, label: str = "", style: str = "") -> None:
    """Print a line to stderr, best-effort: progress and notes must never cost a task."""
    global _plain_stopped
    text = visible_talk(text)
    if _styled():
        from rich.markup import escape

        shown = f"[{style}]{label}[/{style}] {escape(text)}" if label else escape(text)
        with contextlib.suppress(OSError, ValueError):
            console().print(shown)
        return
    if _plain_stopped:
        return
    try:
        stream = sys.stderr
        stream.write(f"{label} {text}\n" if label else f"{text}\n")
        stream.flush()
    except BrokenPipeError:
        _plain_stopped = True
    except (OSError, ValueError, AttributeError):
        pass


def reset_console() -> None:
    """A new command run (in-process): talk again even if an earlier stderr reader went away."""
    global _plain_stopped
    _plain_stopped = False
    if _console is not None:
        _console.quiet = False


def quiet() -> bool:
    """Quiet (-q): nothing on stderr but errors and warnings that put a task or image at risk."""
    return is_quiet()


def note(message: str) -> None:
    if not is_quiet():
        _talk(message)


def warn(message: str, *, at_risk: bool = False) -> None:
    """A warning; ``at_risk`` ones (a task id or a paid image at risk) survive ``--quiet``."""
    if not is_quiet() or at_risk:
        _talk(message, label="warning:", style="yellow")


def detail(message: str) -> None:
    """An indented line under an error (a 400 issue, a batch line), shown even with -q."""
    _talk(f"  {message}")


def error_text(message: str) -> None:
    _talk(message, label="error:", style="bold red")


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
            detail(f"- {issue}")


def data(line: str) -> None:
    """One line of data on stdout, flushed so pipes see it at once.

    A failing stdout is a ``StdoutError`` (the command layer says what was saved anyway).
    """
    stream = sys.stdout
    if stream is None:  # started with stdout closed (>&-): no reader went away, it never was
        raise StdoutError("Could not write to stdout: it is closed.", broken_pipe=False)
    try:
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
    if sys.stdout is None:
        raise StdoutError("Could not write to stdout: it is closed.", broken_pipe=False)
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


def can_animate() -> bool:
    """A live display (spinner, progress bar) can be drawn: stderr really is a terminal, and
    one that can redraw a line. On ``TERM=dumb`` Rich draws no live display at all, so a wait
    would show nothing: such a terminal gets the plain lines a log gets."""
    return is_terminal() and os.environ.get("TERM", "").lower() not in ("dumb", "unknown")


class _ConsoleLogHandler(logging.Handler):
    """``-v`` request lines through the console, so they print above a live spinner."""

    def emit(self, record: logging.LogRecord) -> None:
        _talk(self.format(record))


def log_handler() -> logging.Handler:
    handler = _ConsoleLogHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    return handler


# Re-exported so callers say render.X whatever file X lives in.
from runway_cli.render.console_reporter import ConsoleReporter, describe_state  # noqa: E402
from runway_cli.render.views import (  # noqa: E402
    auth_lines,
    credits_lines,
    history_lines,
    model_detail,
    models_table,
    task_view,
    visible,
    visible_talk,
)

__all__ = [
    "ConsoleReporter",
    "auth_lines",
    "can_animate",
    "credits_lines",
    "data",
    "describe_state",
    "detail",
    "error",
    "error_line",
    "error_text",
    "history_lines",
    "is_terminal",
    "log_handler",
    "model_detail",
    "models_table",
    "note",
    "print_json",
    "reset_console",
    "task_view",
    "visible",
    "visible_talk",
    "warn",
    "write_bytes",
]
