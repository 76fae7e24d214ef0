"""``runway-img sandbox``: serve the local Runway-compatible sandbox in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from runway_cli.cli import options
from runway_cli.cli.boundary import boundary
from runway_cli.cli.options import JsonOpt, QuietOpt


@boundary
def sandbox(
    port: Annotated[
        int,
        typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0 = any free)."),
    ] = 8765,
    key: Annotated[
        str | None,
        typer.Option(
            "--key", help="Key clients must send (default: a new random key).", show_default=False
        ),
    ] = None,
    task_seconds: Annotated[
        float, typer.Option("--task-seconds", help="How long each task takes.")
    ] = 2.0,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            help="SQLite file for tasks (default: in the user cache dir).",
            show_default=False,
        ),
    ] = None,
    faults: Annotated[
        Path | None,
        typer.Option(
            "--faults",
            help="JSON file with a list of fault rules to inject (see README).",
            show_default=False,
        ),
    ] = None,
    concurrency: Annotated[
        str,
        typer.Option(
            "--concurrency",
            metavar="N|none",
            help="Tasks per model running at once; more wait THROTTLED in a queue.",
        ),
    ] = "2",
    daily_limit: Annotated[
        str,
        typer.Option(
            "--daily-limit",
            metavar="N|none",
            help="Tasks per model a day; creates beyond it answer 429.",
        ),
    ] = "500",
    credits: Annotated[
        str,
        typer.Option(
            "--credits",
            metavar="N",
            help="Starting credit balance of this run; a create that costs more answers 400.",
        ),
    ] = "10000",
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Serve the local Runway-compatible sandbox in the foreground (Ctrl-C stops it).

    Prints shell lines to point runway-img (or any Runway client) at it.
    """
    from runway_cli import render
    from runway_cli.cli import contract
    from runway_cli.errors import UsageError
    from runway_cli.input_checks import check_api_key
    from runway_cli.sandbox import SandboxServer, SandboxStateError, load_faults, new_key

    options.begin(json_out=json_out, quiet=quiet)
    settings = options.resolve()
    if not 0 < task_seconds < float("inf"):
        raise UsageError(f"--task-seconds must be a positive number, not {task_seconds:g}.")
    try:
        rules = load_faults(faults) if faults is not None else []
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if state is not None and not state.parent.is_dir():
        raise UsageError(
            f"Cannot keep sandbox state in {state}: the folder {state.parent} does not exist.",
            hint="Create it first, or choose another --state.",
        )
    slots = _limit(concurrency, "--concurrency")
    per_day = _limit(daily_limit, "--daily-limit")
    balance = _whole(credits, "--credits")
    chosen_key = key or new_key()
    check_api_key(chosen_key, "--key")
    try:
        server = SandboxServer.for_cli(
            task_seconds=task_seconds,
            state_path=state or settings.paths.sandbox_state,
            port=port,
            keys=[chosen_key],
            concurrency=slots,
            daily_limit=per_day,
            credits=balance,
        )
    except SandboxStateError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(
            f"Cannot listen on 127.0.0.1:{port}: {exc.strerror}.",
            hint="Pick another --port (0 = any free port).",
        ) from None
    server.faults.replace(rules)
    if json_out:
        contract.emit({"baseUrl": server.base_url, "key": chosen_key})
    else:
        render.data(f"export RUNWAYML_BASE_URL={server.base_url}")
        render.data(f"export RUNWAYML_API_SECRET={chosen_key}")
    render.note(f"Sandbox listening on {server.base_url} (no credits are spent). Ctrl-C stops it.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        render.note("Sandbox stopped.")
    finally:
        server.stop()


def _limit(value: str, flag: str) -> int | None:
    """A whole number >= 0, or ``none``: no limit."""
    return None if value.strip().lower() == "none" else _whole(value, flag, "or none (no limit)")


def _whole(value: str, flag: str, alternative: str = "") -> int:
    from runway_cli.errors import UsageError

    text = value.strip()
    if text.isascii() and text.isdigit() and len(text) <= 12:
        return int(text)
    allowed = " ".join(filter(None, ["a whole number >= 0", alternative]))
    raise UsageError(f"{flag} must be {allowed}, not {value!r}.")
