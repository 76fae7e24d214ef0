"""Options shared by several commands, as typed ``Annotated`` aliases, and the settings they
resolve to."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from runway_cli.settings import Settings

ApiKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        metavar="KEY",
        help="Runway API key (default: $RUNWAYML_API_SECRET, then the stored key).",
        show_default=False,
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        metavar="URL",
        help="API base URL (default: $RUNWAYML_BASE_URL or https://api.dev.runwayml.com).",
        show_default=False,
    ),
]
SandboxOpt = Annotated[
    bool,
    typer.Option(
        "--sandbox",
        help="Run against the built-in local sandbox: no key, no credits "
        "(or set RUNWAY_IMG_SANDBOX=1).",
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout (also on failure).")
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "-q",
        "--quiet",
        help="Nothing on stderr but errors and warnings that put a task or an image at risk.",
    ),
]
OutputOpt = Annotated[
    str | None,
    typer.Option(
        "-o",
        "--output",
        metavar="PATH",
        help="File, existing folder, or template with {id} {n} {ext} {model} {seed}. "
        "Default: <task id>.<ext> here; several outputs get numbered names.",
        show_default=False,
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite existing files.")]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", metavar="SECONDS", help="Seconds to wait for the task before giving up."
    ),
]
VerboseOpt = Annotated[
    bool, typer.Option("-v", "--verbose", help="Log each HTTP request to stderr.")
]


def begin(*, json_out: bool = False, quiet: bool = False) -> None:
    """Every command starts here: the output contract for this run."""
    from runway_cli.cli import contract

    contract.begin(json=json_out, quiet=quiet)


def resolve(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    sandbox: bool = False,
    verbose: bool = False,
) -> Settings:
    """The settings for this run (flags, then environment, then defaults)."""
    _log_requests(verbose)
    return Settings.resolve(api_key=api_key, base_url=base_url, sandbox=sandbox)


def _log_requests(verbose: bool) -> None:
    """``-v``: request lines on stderr (through the console, above a live spinner)."""
    logger = logging.getLogger("runway_cli")
    for handler in [h for h in logger.handlers if getattr(h, "runway_img", False)]:
        logger.removeHandler(handler)  # in-process runs (tests) start from a clean slate
    if not verbose:
        logger.setLevel(logging.WARNING)
        return
    from runway_cli import render

    handler = render.log_handler()
    handler.runway_img = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
