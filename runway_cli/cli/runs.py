"""What ``generate`` and ``download`` share: a workflow wired to a console reporter, and
printing a run's outcome (paths or one JSON object, also when the task did not work out)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from runway_cli import render
from runway_cli.cli import contract
from runway_cli.cli.resume import Resume
from runway_cli.connection import Connection, connect
from runway_cli.errors import RunwayImgError, SaveError, StdoutError, TaskError
from runway_cli.history import History
from runway_cli.results import TaskSummary, task_result
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
def start(settings: Settings, *, label: str = "Generating") -> Iterator[Run]:
    with connect(settings) as conn, render.ConsoleReporter(label=label) as reporter:
        announce(conn, reporter)
        history = History(settings.paths.history)
        yield Run(conn, Workflow(conn.client, history, reporter, sandbox=conn.sandbox), reporter)


def print_outcome(summary: TaskSummary, outcome: Outcome, json_out: bool) -> None:
    """The saved paths (or the JSON object) on stdout; if stdout fails, say where they are."""
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
        raise StdoutError(
            f"{exc.message} The image was saved anyway: {where}", broken_pipe=False
        ) from exc


def report_failure(
    exc: RunwayImgError, summary: TaskSummary, resume: Resume, json_out: bool
) -> None:
    """Before the boundary prints the error: add how to resume, say what the JSON object
    holds (the task as last seen, the files that were saved) and print the saved paths."""
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
