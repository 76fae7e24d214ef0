"""The command line: the only code that uses typer. One module per command; ``app`` assembles
them, ``boundary`` turns errors into one line and an exit status, ``output`` keeps the
quiet and JSON contracts."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn


def _on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def run(args: Sequence[str]) -> int:
    """Run one command line and return its exit status (the entry point minus the process
    set-up; tests call it in-process). Command-line parsing errors keep the JSON contract."""
    import typer

    from runway_cli.cli import contract
    from runway_cli.cli.app import click_command, command_named

    contract.reset()
    command = click_command(command_named(_completion_words() or list(args)))
    try:
        result = command.main(args=list(args), prog_name="runway-img", standalone_mode=False)
    except typer.TyperException as exc:  # the command line did not parse: exit 2
        _show_parse_error(exc)
        contract.on_error(
            status=exc.exit_code, kind="usage", message=exc.format_message(), force_json=_json(args)
        )
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        from runway_cli import render

        render.error_text("Interrupted.")
        return 130
    return result if isinstance(result, int) else 0


def _show_parse_error(exc: Exception) -> None:
    """One line, like every other failure (click prints usage, a hint and the error on three);
    with no arguments at all, the help itself."""
    from runway_cli import render

    show = getattr(exc, "show", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and callable(show):
        show()
        return
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None) or "runway-img"
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    render.error_text(f"{message.rstrip('.')}. See: {command} --help")


def _completion_words() -> list[str] | None:
    """During a shell-completion request, the words typed after ``runway-img``."""
    import os
    import shlex

    if not os.environ.get("_RUNWAY_IMG_COMPLETE"):
        return None
    line = os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS") or ""
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    return words[1:]


def _json(args: Sequence[str]) -> bool:
    return "--json" in args[: list(args).index("--") if "--" in args else len(args)]


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] == ["--version"]:  # answered before the Typer app is built: instant
        from runway_cli import __version__

        print(f"runway-img {__version__}")
        return
    signal.signal(signal.SIGTERM, _on_sigterm)
    sys.exit(run(sys.argv[1:]))
