"""What ``generate`` and ``download`` share: a workflow wired to a console reporter, and
printing a run's outcome (paths or one JSON object, also when the task did not work out)."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from runway_cli import render
from runway_cli.cli import contract
from runway_cli.connection import Connection, connect
from runway_cli.errors import RunwayImgError, SaveError, StdoutError, TaskError, UsageError

if TYPE_CHECKING:  # imported where used: a status call needs none of them (start-up time)
    from runway_cli.cli.resume import Resume
    from runway_cli.results import TaskSummary
    from runway_cli.settings import Settings
    from runway_cli.workflow import Outcome, Workflow


@dataclass
class Run:
    conn: Connection
    workflow: Workflow
    reporter: render.ConsoleReporter


def announce(conn: Connection, reporter: render.ConsoleReporter) -> None:
    """Say which service this is, and wire the client's callbacks to the reporter."""
    for line in conn.notes:
        reporter.note(line)
    for line in conn.warnings:
        reporter.warning(line)
    if not conn.sandbox:
        conn.client.on_sandbox = lambda url: reporter.note(
            f"{url} is a runway-img sandbox: no credits are spent."
        )
    conn.client.on_retry = reporter.retrying


@contextmanager
def connected(
    settings: Settings, *, label: str = "Generating"
) -> Iterator[tuple[Connection, render.ConsoleReporter]]:
    """A client, and a reporter it reports its retries and the sandbox to."""
    with connect(settings) as conn, render.ConsoleReporter(label=label) as reporter:
        announce(conn, reporter)
        yield conn, reporter


@contextmanager
def start(settings: Settings, *, label: str = "Generating") -> Iterator[Run]:
    """``connected``, plus the workflow (with the history) for commands that make images."""
    from runway_cli.history import History
    from runway_cli.workflow import Workflow

    with connected(settings, label=label) as (conn, reporter):
        history = History(settings.paths.history)
        yield Run(conn, Workflow(conn.client, history, reporter, sandbox=conn.sandbox), reporter)


def print_outcome(summary: TaskSummary, outcome: Outcome, json_out: bool) -> None:
    """The saved paths (or the JSON object) on stdout; if stdout fails, say where they are."""
    from runway_cli.results import task_result

    try:
        if json_out:
            contract.emit(task_result(summary, outcome.task, outcome.saved))
            return
        for item in outcome.saved:
            render.data(str(item.path))
    except StdoutError as exc:
        if exc.broken_pipe:
            raise
        where = ", ".join(shlex.quote(str(item.path)) for item in outcome.saved)
        task_id = outcome.task.id
        raise StdoutError(
            f"{exc.message} Task {task_id} succeeded; its images were saved anyway: {where}",
            broken_pipe=False,
            task_id=task_id,
        ) from exc


def report_failure(
    exc: RunwayImgError, summary: TaskSummary, resume: Resume, json_out: bool
) -> None:
    """Before the boundary prints the error: add how to resume, say what the JSON object
    holds (the task as last seen, the files that were saved) and print the saved paths."""
    from runway_cli.results import task_result

    note = resume.note_for(exc)
    if note:
        exc.add_note(note)
    task_id = exc.task_id
    if task_id is None:
        return
    task = exc.task if isinstance(exc, TaskError | SaveError) else None
    saved = exc.saved if isinstance(exc, SaveError) else ()
    contract.known(task_result(replace(summary, id=task_id), task, saved))
    if not json_out:
        for item in saved:
            render.data(str(getattr(item, "path", item)))


@dataclass(frozen=True)
class Destination:
    """Where saved images go: ``-o`` as given, or (``-o -``) a private temporary folder whose
    one image is then written to stdout."""

    output: str | None
    to_stdout: bool = False
    folder: Path | None = None


def destination(output: str | None, *, json_out: bool, expected: int | None) -> Destination:
    """``-o`` for the plan; for ``-o -``, refuse a terminal, --json and several images."""
    if output != "-":
        return Destination(output)
    if json_out:
        raise UsageError("-o - writes the image bytes to stdout, so it cannot go with --json.")
    if sys.stdout is not None and sys.stdout.isatty():
        raise UsageError(
            "Refusing to write image bytes to a terminal.",
            hint="Redirect stdout (> out.png, | convert - ...) or choose a file with -o.",
        )
    if expected is not None and expected > 1:
        raise UsageError(f"-o - writes one image to stdout; this request makes {expected}.")
    folder = Path(tempfile.mkdtemp(prefix="runway-img-"))
    return Destination(f"{folder}{os.sep}", to_stdout=True, folder=folder)


def deliver(
    dest: Destination, summary: TaskSummary, outcome: Outcome, *, json_out: bool, open_: bool
) -> None:
    """Print the outcome (or stream the one image to stdout), then open files if asked."""
    if not dest.to_stdout:
        print_outcome(summary, outcome, json_out)
        if open_:
            _open([item.path for item in outcome.saved])
        return
    path = outcome.saved[0].path
    try:
        render.write_bytes(path)
    except StdoutError as exc:
        if exc.broken_pipe:
            # The reader took what it wanted (| head -c): nothing reports the temporary
            # copy, so it would only be litter in the temporary folder.
            shutil.rmtree(dest.folder or path.parent, ignore_errors=True)
            raise
        task_id = outcome.task.id
        raise StdoutError(
            f"{exc.message} Task {task_id} succeeded; the image is kept at {path}",
            broken_pipe=False,
            task_id=task_id,
        ) from exc
    shutil.rmtree(dest.folder or path.parent, ignore_errors=True)


def discard(dest: Destination) -> None:
    """After a failure with ``-o -``: keep a saved image, else remove the empty folder."""
    if dest.folder is not None:
        with contextlib.suppress(OSError):
            dest.folder.rmdir()  # only if empty: a saved image is never thrown away


def _open(paths: list[Path]) -> None:
    from runway_cli import viewer

    reason = viewer.why_not()
    if reason is not None:
        render.note(f"Not opening the images: {reason}.")
        return
    try:
        viewer.open_files(paths)
    except OSError as exc:
        render.warn(f"Could not open the images: {exc.strerror or exc}.")
