"""The single error boundary every command runs inside.

Expected failures (``RunwayImgError``) become one stderr line and their documented exit
status (``exit_codes``); Ctrl-C and SIGTERM exit 130. Anything else is a bug and keeps its
traceback (without local variables, so the key never shows). Errors are annotated here, never
edited.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import typer

from runway_cli.cli import contract
from runway_cli.errors import RunwayImgError
from runway_cli.exit_codes import ExitStatus, exit_status_for

P = ParamSpec("P")
R = TypeVar("R")


def boundary(func: Callable[P, R]) -> Callable[P, R]:
    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except RunwayImgError as exc:
            from runway_cli import render

            status = exit_status_for(exc)
            if status is ExitStatus.BROKEN_PIPE:  # `| head` stopped reading: end quietly
                raise typer.Exit(status) from None
            render.error(exc)
            contract.on_error(
                status=status, kind=exc.kind, message=render.error_line(exc), task_id=exc.task_id
            )
            raise typer.Exit(status) from None
        except (KeyboardInterrupt, typer.Abort):
            from runway_cli import render

            render.error_text("Interrupted.")
            contract.on_error(
                status=ExitStatus.INTERRUPTED, kind="interrupted", message="Interrupted."
            )
            raise typer.Exit(ExitStatus.INTERRUPTED) from None

    return wrapper
