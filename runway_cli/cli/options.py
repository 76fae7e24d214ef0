"""Options shared by several commands, as typed ``Annotated`` aliases, and the settings they
resolve to."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer

from runway_cli.cli import completion
from runway_cli.cli.completion import complete_profile

if TYPE_CHECKING:
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
        help="File, existing folder, template with {id} {n} {ext} {model} {seed}, or - for "
        "stdout. Default: <task id>.<ext> here; several outputs get numbered names.",
        show_default=False,
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite existing files.")]
OpenOpt = Annotated[
    bool, typer.Option("--open", help="Open the saved images in the system viewer (not in CI).")
]
CancelOnTimeoutOpt = Annotated[
    bool,
    typer.Option("--cancel-on-timeout", help="Cancel the task on the server when --timeout ends."),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", metavar="SECONDS", help="Seconds to wait for the task before giving up."
    ),
]
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="NAME",
        help="Use this profile's key, base URL and defaults (or set RUNWAY_IMG_PROFILE).",
        show_default=False,
        autocompletion=complete_profile,
    ),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
VerboseOpt = Annotated[
    bool, typer.Option("-v", "--verbose", help="Log each HTTP request to stderr.")
]


# -- what to make: shared by generate and batch (for batch, the defaults of every item) ------

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        metavar="MODEL",
        help="Model id (see runway-img models). Default: gen4_image, or the profile's.",
        show_default=False,
        autocompletion=completion.complete_model,
    ),
]
RatioOpt = Annotated[
    str | None,
    typer.Option(
        "--ratio",
        "-r",
        metavar="W:H",
        help="WIDTH:HEIGHT, e.g. 1280:720 (default depends on the model).",
        show_default=False,
        autocompletion=completion.complete_ratio,
    ),
]
RefOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--ref",
        metavar="SOURCE",
        help="Reference image: FILE, https:// URL or runway:// URI, optionally TAG=SOURCE "
        "and a @human/@object suffix. Repeatable.",
        show_default=False,
    ),
]
CountOpt = Annotated[
    int | None,
    typer.Option(
        "--count", "-n", metavar="N", help="How many images (outputCount).", show_default=False
    ),
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", metavar="N", help="Random seed.", show_default=False)
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        metavar="png|jpeg|webp",
        help="Output format: png, jpeg or webp.",
        show_default=False,
        autocompletion=completion.complete_format,
    ),
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        metavar="KEY=VALUE",
        help="Any other model parameter as KEY=VALUE. Repeatable.",
        show_default=False,
    ),
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
    profile: str | None = None,
    verbose: bool = False,
) -> Settings:
    """The settings for this run (flags, then environment, then defaults)."""
    from runway_cli.settings import Settings

    _log_requests(verbose)
    return Settings.resolve(api_key=api_key, base_url=base_url, sandbox=sandbox, profile=profile)


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


def profile_defaults(
    settings: Settings, model: str | None, ratio: str | None, output: str | None
) -> tuple[str, str | None, str | None]:
    """Model, ratio and output from the flags, else the profile (``config set``), else the
    built-in defaults. A profile ratio the model does not take is left out."""
    from runway_cli.catalog import DEFAULT_MODEL, get_model

    chosen = model or settings.defaults.get("model") or DEFAULT_MODEL
    if ratio is None and (saved := settings.defaults.get("ratio")):
        spec = get_model(chosen)
        if spec is None or spec.ratio.accepts(saved):
            ratio = saved
    if output is None and (folder := settings.defaults.get("output-dir")):
        output = folder.rstrip("/") + "/"
    return chosen, ratio, output
