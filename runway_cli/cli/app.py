"""The Typer application: every command registered in one place."""

from __future__ import annotations

from typing import Annotated

import typer

from runway_cli import __version__
from runway_cli.cli import auth, cancel, config, credits, generate, models, sandbox, tasks

EXIT_CODES = (
    "Exit codes: 0 ok, 1 unexpected error, 2 bad input, 3 missing/invalid key, "
    "4 task failed, 5 task cancelled, 6 timed out waiting, 7 network/server trouble, "
    "8 writing the output failed (files or stdout), 130 interrupted, "
    "141 stdout closed by the reader."
)

app = typer.Typer(
    name="runway-img",
    help="Turn text prompts into images with the Runway API.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    # Never print local variables in a traceback: one of them could be the API key.
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"runway-img {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Turn text prompts into images with the Runway API."""


app.command("generate")(generate.generate)
app.command("status")(tasks.status)
app.command("download")(tasks.download)
app.command("models")(models.models)
app.command("history")(tasks.history)
app.command("cancel", epilog=cancel.EXAMPLE)(cancel.cancel)
app.command("credits", epilog="Example: runway-img credits --json")(credits.credits)
app.add_typer(auth.auth_app, name="auth")
app.add_typer(config.config_app, name="config")
app.command("sandbox")(sandbox.sandbox)
