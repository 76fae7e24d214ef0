"""The output contract of one command run: quiet or not, and with ``--json`` exactly one JSON
object on stdout on every exit.

A command says what it knows as it goes (``known``) and prints its object on success
(``emit``); if it fails, the boundary prints what was known plus an ``error`` member
(``exitCode``, ``kind``, ``message``, ``taskId``), so a script always gets one object.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from typing import Any

from runway_cli.errors import RunwayImgError
from runway_cli.quietness import set_quiet


@dataclass
class _Run:
    json: bool = False
    quiet: bool = False
    obj: dict[str, Any] = field(default_factory=dict)
    emitted: bool = False


_run = _Run()


def reset() -> None:
    """A new command run (the in-process entry runs many in one process)."""
    global _run
    _run = _Run()
    set_quiet(False)
    render = sys.modules.get("runway_cli.render")
    if render is not None:  # loaded by an earlier run in this process
        render.reset_console()


def begin(*, json: bool = False, quiet: bool = False) -> None:
    """Called first by every command with its ``--json`` and ``-q`` flags."""
    _run.json = json
    _run.quiet = quiet
    set_quiet(quiet)


def json_requested() -> bool:
    return _run.json


def known(obj: dict[str, Any]) -> None:
    """What the command's JSON object holds so far (printed with the error if it fails)."""
    _run.obj = dict(obj)


def emit(obj: dict[str, Any]) -> None:
    """Print the command's JSON object (once)."""
    from runway_cli import render

    _run.obj = dict(obj)
    _run.emitted = True
    render.print_json(obj)


def on_error(
    *, status: int, kind: str, message: str, task_id: str | None = None, force_json: bool = False
) -> None:
    """With --json and nothing printed yet: what was known, plus the error member.

    ``force_json``: the command line asked for --json but failed to parse, so the command
    never started."""
    if not (_run.json or force_json) or _run.emitted:
        return
    from runway_cli import render

    _run.emitted = True
    error = {"exitCode": status, "kind": kind, "message": message, "taskId": task_id}
    obj = {**_run.obj, "error": error}
    with contextlib.suppress(RunwayImgError):  # stdout itself failed; stderr has the error
        render.print_json(obj)
