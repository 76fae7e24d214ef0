"""The Typer application: every command registered in one place, built on demand.

Building every command's options costs time at each start, so ``build(only)`` registers just
the command a command line names (``runway-img generate --help`` builds ``generate`` alone);
``runway-img --help`` and unknown names build them all.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Annotated

import typer
import typer.main

if TYPE_CHECKING:
    from typer import _click as click  # the click typer vendors; only for the annotation

from runway_cli import __version__

EXIT_CODES = (
    "Exit codes: 0 ok, 1 unexpected error, 2 bad input, 3 missing/invalid key, "
    "4 task failed, 5 task cancelled, 6 timed out waiting, 7 network/server trouble, "
    "8 writing the output failed (files or stdout), 9 batch stopped early by the budget or "
    "the daily limit (rerun to continue), 130 interrupted, "
    "141 stdout closed by the reader."
)

ROOT_EXAMPLE = 'Example: runway-img generate "a red fox" --sandbox -o fox.png'

# name -> (module in runway_cli.cli, attribute, one real example for --help). An attribute
# that is a Typer is a command group (auth, config).
COMMANDS: dict[str, tuple[str, str, str | None]] = {
    "generate": (
        "generate",
        "generate",
        'Example: runway-img generate "a lighthouse at dusk" --ratio 1280:720 -o lighthouse.png',
    ),
    "status": (
        "tasks",
        "status",
        "Example: runway-img status 8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b",
    ),
    "download": ("tasks", "download", "Example: runway-img download --last -o renders/"),
    "cancel": (
        "cancel",
        "cancel",
        "Example: runway-img cancel 8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b",
    ),
    "history": ("tasks", "history", "Example: runway-img history -n 5 --json"),
    "models": ("models", "models", "Example: runway-img models gemini_image3_pro"),
    "credits": ("credits", "credits", "Example: runway-img credits --json"),
    "batch": (
        "batch",
        "batch",
        "Example: runway-img batch prompts.txt -o renders/ --vary seed=1,2,3 --max-credits 200",
    ),
    "auth": ("auth", "auth_app", None),
    "config": ("config", "config_app", None),
    "sandbox": ("sandbox", "sandbox", "Example: runway-img sandbox --port 8765 --task-seconds 1"),
}


def unwrapped(example: str | None) -> str | None:
    """An example for --help that click prints as it is (its ``\\b`` marker): rewrapped, it
    broke mid-option (``--max-`` / ``credits 200``) and could not be copied."""
    return None if example is None else f"\b\n{example}"


def _version(value: bool) -> None:
    if value:
        print(f"runway-img {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Turn text prompts into images with the Runway API."""


def build(only: str | None = None) -> typer.Typer:
    """The app with every command, or only the one named ``only`` (faster to start)."""
    app = typer.Typer(
        name="runway-img",
        help="Turn text prompts into images with the Runway API.",
        epilog=f"{unwrapped(ROOT_EXAMPLE)}\n\n{EXIT_CODES}",
        no_args_is_help=True,
        # Never print local variables in a traceback: one of them could be the API key.
        pretty_exceptions_show_locals=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    names = [only] if only in COMMANDS else list(COMMANDS)
    for name in names:
        module, attribute, example = COMMANDS[name]
        target = getattr(importlib.import_module(f"runway_cli.cli.{module}"), attribute)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name, epilog=unwrapped(example))(target)
    return app


@functools.cache
def click_command(only: str | None = None) -> click.Command:
    """The click command behind ``build(only)``, built once per process (tests run many
    command lines in one process; a real run builds it once anyway)."""
    return typer.main.get_command(build(only))


def command_named(args: list[str]) -> str | None:
    """The command a command line names: its first word that is not an option."""
    for arg in args:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None
