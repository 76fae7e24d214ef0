"""The command line: parse options, call the modules below, render, map errors to exit codes.

This is the only module that imports typer. Every command runs inside ``boundary``, the single
error boundary: each expected failure is a ``RunwayImgError`` and becomes one stderr line plus
its documented exit status (``exit_codes``).
"""

from __future__ import annotations

import getpass
import signal
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from runway_cli import __version__, catalog, config, history, render, request, tasks
from runway_cli.connect import Connection, connect, sandbox_requested
from runway_cli.downloads import OutputPlan, output_urls
from runway_cli.errors import (
    AuthenticationError,
    RunwayImgError,
    SaveError,
    TaskError,
    UsageError,
)
from runway_cli.exit_codes import ExitStatus, exit_status_for
from runway_cli.references import parse_ref
from runway_cli.validation import check_api_key, check_task_id, check_timeout
from runway_cli.waiting import PollSchedule

app = typer.Typer(
    name="runway-img",
    help="Turn text prompts into images with the Runway API.",
    epilog="Exit codes: 0 ok, 1 unexpected error, 2 bad input, 3 missing/invalid key, "
    "4 task failed, 5 task cancelled, 6 timed out waiting, 7 network/server trouble, "
    "8 saving failed, 130 interrupted.",
    no_args_is_help=True,
    # Never print local variables in a traceback: one of them could be the API key.
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
auth_app = typer.Typer(help="Store, check and remove your Runway API key.", no_args_is_help=True)
app.add_typer(auth_app, name="auth")

P = ParamSpec("P")
R = TypeVar("R")


def boundary(func: Callable[P, R]) -> Callable[P, R]:
    """The single error boundary every command runs inside.

    Expected failures (``RunwayImgError``) become one stderr line and their documented exit
    status; Ctrl-C and SIGTERM exit 130. Anything else is a bug and keeps its traceback
    (without local variables, so the key never shows).
    """

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except RunwayImgError as exc:
            render.error(exc)
            raise typer.Exit(exit_status_for(exc)) from None
        except (KeyboardInterrupt, typer.Abort):
            render.note("Interrupted.")
            raise typer.Exit(ExitStatus.INTERRUPTED) from None

    return wrapper


# -- shared options --------------------------------------------------------------------------

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
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
JsonListOpt = Annotated[bool, typer.Option("--json", help="Print a JSON array on stdout.")]
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


def _version(value: bool) -> None:
    if value:
        render.data(f"runway-img {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Turn text prompts into images with the Runway API."""


def _setup_logging(verbose: bool) -> None:
    if not verbose:
        return
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("runway_cli")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _announce(conn: Connection) -> None:
    for line in conn.notes:
        render.note(line) if conn.sandbox else render.warn(line)
    if not conn.sandbox:
        conn.client.on_sandbox = lambda url: render.note(
            f"{url} is a runway-img sandbox: no credits are spent."
        )


def _resume_flags(sandbox: bool, base_url: str | None) -> list[str]:
    if sandbox_requested(sandbox):
        return ["--sandbox"]
    return ["--base-url", base_url] if base_url else []


def _read_prompt(prompt: str | None, prompt_file: Path | None) -> str:
    if (prompt is None) == (prompt_file is None):
        raise UsageError(
            "Give the prompt as an argument, as - for stdin, or with --prompt-file (one of them)."
        )
    if prompt_file is not None:
        try:
            return prompt_file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UsageError(f"Cannot read the prompt file {prompt_file}: {reason}.") from None
    assert prompt is not None
    if prompt != "-":
        return prompt
    if sys.stdin.isatty():
        render.note("Reading the prompt from stdin; end with Ctrl-D.")
    try:
        text = sys.stdin.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"Could not read the prompt from stdin: {exc}.") from None
    return text.rstrip("\r\n")


def _follow_and_print(
    job: tasks.Job,
    task_id: str,
    current: dict[str, Any] | None,
    summary: dict[str, Any],
    json_out: bool,
) -> None:
    """Wait, save, and print the paths (or the JSON object, also when the task did not work)."""
    try:
        outcome = tasks.follow(job, task_id, current)
    except TaskError as exc:
        if json_out:
            render.print_json(tasks.result_json(summary, exc.task or {"id": task_id}, []))
        raise
    except SaveError as exc:
        if json_out:
            render.print_json(tasks.result_json(summary, exc.task or {"id": task_id}, exc.saved))
        else:
            for item in exc.saved:
                render.data(str(item.path))
        raise
    if json_out:
        render.print_json(tasks.result_json(summary, outcome.task, outcome.saved))
    else:
        for item in outcome.saved:
            render.data(str(item.path))


# -- generate ---------------------------------------------------------------------------------


@app.command()
@boundary
def generate(
    prompt: Annotated[
        str | None,
        typer.Argument(
            metavar="PROMPT", help='The prompt, or "-" to read it from stdin.', show_default=False
        ),
    ] = None,
    prompt_file: Annotated[
        Path | None,
        typer.Option(
            "--prompt-file",
            "-f",
            metavar="FILE",
            help="Read the prompt from a UTF-8 file.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str,
        typer.Option("--model", "-m", metavar="MODEL", help="Model id (see runway-img models)."),
    ] = catalog.DEFAULT_MODEL,
    ratio: Annotated[
        str | None,
        typer.Option(
            "--ratio",
            "-r",
            metavar="W:H",
            help="WIDTH:HEIGHT, e.g. 1280:720 (default depends on the model).",
            show_default=False,
        ),
    ] = None,
    refs: Annotated[
        list[str] | None,
        typer.Option(
            "--ref",
            metavar="SOURCE",
            help="Reference image: FILE, https:// URL or runway:// URI, optionally TAG=SOURCE "
            "and a @human/@object suffix. Repeatable.",
            show_default=False,
        ),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option(
            "--count", "-n", metavar="N", help="How many images (outputCount).", show_default=False
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", metavar="N", help="Random seed.", show_default=False)
    ] = None,
    public_figures: Annotated[
        str | None,
        typer.Option(
            "--public-figures",
            metavar="auto|low",
            help="Moderation of public figures: auto or low (contentModeration).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="png|jpeg|webp",
            help="Output format: png, jpeg or webp.",
            show_default=False,
        ),
    ] = None,
    params: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="KEY=VALUE",
            help="Any other model parameter as KEY=VALUE. Repeatable.",
            show_default=False,
        ),
    ] = None,
    output: OutputOpt = None,
    force: ForceOpt = False,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Print the task id and exit without waiting.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check everything and print the request; send nothing."),
    ] = False,
    timeout: TimeoutOpt = 600.0,
    json_out: JsonOpt = False,
    api_key: ApiKeyOpt = None,
    base_url: BaseUrlOpt = None,
    sandbox: SandboxOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Create an image from PROMPT, wait for it and save it.

    Prints the saved file paths (one per line) on stdout.
    """
    _setup_logging(verbose)
    text = _read_prompt(prompt, prompt_file)
    prepared = request.build(
        request.Options(
            model=model,
            prompt=text,
            ratio=ratio,
            refs=[parse_ref(r) for r in refs or []],
            count=count,
            seed=seed,
            public_figures=public_figures,
            output_format=output_format,
            params=list(params or []),
        )
    )
    for line in prepared.warnings:
        render.warn(line)
    check_timeout(timeout)
    schedule = PollSchedule.from_env()
    plan = OutputPlan(output, force, model=model, seed=prepared.body.get("seed"))
    # With --no-wait nothing is saved now, but the -o in the resume command must be usable.
    plan.precheck(prepared.expected_outputs, prepared.expected_ext, folder_only=no_wait)
    if dry_run:
        render.print_json(prepared.display_body())
        render.note("Dry run: nothing was sent and no task was created.")
        return

    with connect(api_key=api_key, base_url=base_url, sandbox=sandbox) as conn:
        _announce(conn)
        tasks.upload_references(conn, prepared)
        body = prepared.body
        created = tasks.create(conn, body)
        task_id = created["id"]
        job = tasks.Job(conn, plan, timeout, schedule, _resume_flags(sandbox, base_url))
        summary = {"id": task_id, "model": model, "ratio": body.get("ratio"), "prompt": text}
        if no_wait:
            if json_out:
                pending = {"id": task_id, "status": "PENDING", **created}
                render.print_json(tasks.result_json(summary, pending, []))
            else:
                render.data(task_id)
            render.note(f"Task {task_id} created. Fetch it later: {job.resume_command(task_id)}")
            return
        render.note(f"Task {task_id} created.")
        _follow_and_print(job, task_id, None, summary, json_out)


# -- status & download ------------------------------------------------------------------------


@app.command()
@boundary
def status(
    task_id: Annotated[str, typer.Argument(metavar="TASK_ID", help="The task id (a UUID).")],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the API's task object as JSON.")
    ] = False,
    api_key: ApiKeyOpt = None,
    base_url: BaseUrlOpt = None,
    sandbox: SandboxOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Show a task: state, progress, created time, cost, outputs or failure."""
    _setup_logging(verbose)
    task_id = check_task_id(task_id)
    with connect(api_key=api_key, base_url=base_url, sandbox=sandbox) as conn:
        _announce(conn)
        task = conn.client.get_task(task_id)
    if json_out:
        render.print_json(task)
    else:
        for line in render.task_view(task):
            render.data(line)


@app.command()
@boundary
def download(
    task_id: Annotated[
        str | None,
        typer.Argument(metavar="TASK_ID", help="The task id (a UUID).", show_default=False),
    ] = None,
    last: Annotated[
        bool, typer.Option("--last", help="Use the newest task in the local history.")
    ] = False,
    output: OutputOpt = None,
    force: ForceOpt = False,
    timeout: TimeoutOpt = 600.0,
    json_out: JsonOpt = False,
    api_key: ApiKeyOpt = None,
    base_url: BaseUrlOpt = None,
    sandbox: SandboxOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Save a task's images from fresh URLs (waiting first if it is still running)."""
    _setup_logging(verbose)
    if last == (task_id is not None):
        raise UsageError("Give a task id or --last (not both).")
    if task_id is None:
        task_id = history.last_task_id()
        if task_id is None:
            raise UsageError(f"No tasks in the local history ({history.history_path()}).")
        render.note(f"Newest task in history: {task_id}")
    task_id = check_task_id(task_id)
    check_timeout(timeout)
    schedule = PollSchedule.from_env()
    # The API does not return a task's model, prompt or seed; the local history may know them.
    known = history.find(task_id)
    seed = known.params.get("seed") if known else None
    plan = OutputPlan(
        output,
        force,
        model=known.model if known else None,
        seed=seed if isinstance(seed, int) else None,
    )
    plan.precheck(1, "png", folder_only=True)
    summary: dict[str, Any] = {"id": task_id}
    if known is not None:
        summary.update(model=known.model, ratio=known.ratio, prompt=known.prompt)
    with connect(api_key=api_key, base_url=base_url, sandbox=sandbox) as conn:
        _announce(conn)
        task = conn.client.get_task(task_id)
        urls = output_urls(task)
        if task.get("status") == "SUCCEEDED" and urls:
            # Known names before any download: a clash is bad input (exit 2), not a failure.
            tasks.check_destinations(plan, task_id, urls)
        job = tasks.Job(conn, plan, timeout, schedule, _resume_flags(sandbox, base_url))
        _follow_and_print(job, task_id, task, summary, json_out)


@app.command("models")
@boundary
def models_cmd(
    model_id: Annotated[
        str | None,
        typer.Argument(metavar="MODEL_ID", help="Show one model in full.", show_default=False),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON on stdout (an array without MODEL_ID).")
    ] = False,
) -> None:
    """List the text-to-image models, or show one with all ratios and parameters."""
    known = catalog.all_models()
    if model_id is None:
        if json_out:
            render.print_json([m.to_json() for m in known.values()])
        else:
            for line in render.models_table(list(known.values())):
                render.data(line)
        return
    spec = known.get(model_id)
    if spec is None:
        close = [m for m in known if model_id.lower() in m.lower()]
        hint = f" Did you mean: {', '.join(close)}?" if close else " See: runway-img models"
        raise UsageError(f"Unknown model {model_id!r}.{hint}")
    if json_out:
        render.print_json(spec.to_json())
    else:
        for line in render.model_detail(spec):
            render.data(line)


@app.command("history")
@boundary
def history_cmd(
    limit: Annotated[int, typer.Option("-n", "--limit", help="How many tasks to show.")] = 20,
    json_out: JsonListOpt = False,
) -> None:
    """List recent tasks from the local history (newest first)."""
    if limit <= 0:
        raise UsageError("-n must be a positive number.")
    rows = history.entries()[:limit]
    if json_out:
        render.print_json([row.to_json() for row in rows])
        return
    if not rows:
        render.note(f"No tasks yet (history file: {history.history_path()}).")
        return
    for row in rows:
        prompt = (row.prompt or "").replace("\n", " ")
        if len(prompt) > 40:
            prompt = prompt[:39] + "…"
        files = f"  {', '.join(row.files)}" if row.files else ""
        note = f"  ({row.note})" if row.note and row.id is None else ""
        render.data(
            f"{row.id or '?' * 36}  {row.created}  {row.status:<9}  {row.model or '-'}  "
            f"{prompt}{files}{note}"
        )


# -- auth ---------------------------------------------------------------------------------------


@auth_app.command("login")
@boundary
def auth_login(
    with_token: Annotated[
        bool, typer.Option("--with-token", help="Read the key from stdin instead of prompting.")
    ] = False,
    base_url: BaseUrlOpt = None,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Check the key with the API first.")
    ] = True,
) -> None:
    """Store your API key (read from a hidden prompt, or from stdin)."""
    from_stdin = with_token or not sys.stdin.isatty()
    if from_stdin:
        key = sys.stdin.readline().strip()
    else:
        try:
            key = getpass.getpass("Paste your Runway API key (input is hidden): ").strip()
        except EOFError:
            raise UsageError("No key entered.") from None
    check_api_key(key, "stdin" if from_stdin else "the prompt")
    if verify:
        # The key to check is passed as if by --api-key, the highest precedence.
        with connect(api_key=key, base_url=base_url, sandbox=False, allow_sandbox=False) as conn:
            try:
                org = conn.client.get_organization()
            except AuthenticationError as exc:
                exc.message = "Runway rejected this key (HTTP 401); it was not stored."
                raise
            render.note(
                f"Key accepted by {conn.client.base_url} "
                f"(credit balance: {org.get('creditBalance')})."
            )
    path = config.store_key(key)
    render.note(f"Stored the key in {path} (readable only by you).")


@auth_app.command("status")
@boundary
def auth_status(
    api_key: ApiKeyOpt = None,
    base_url: BaseUrlOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Say where the key comes from, show it masked, and check it works."""
    with connect(api_key=api_key, base_url=base_url, sandbox=False, allow_sandbox=False) as conn:
        _announce(conn)
        source = conn.key_source or "?"
        info: dict[str, Any] = {
            "source": source,
            "key": config.mask_key(conn.client.api_key),
            "baseUrl": conn.client.base_url,
            "valid": None,  # unknown until the API answers
            "creditBalance": None,
        }
        try:
            org = conn.client.get_organization()
        except AuthenticationError as exc:
            info["valid"] = False
            _print_auth(info, json_out)
            exc.message = f"The key from {source} was rejected (HTTP 401)."
            raise
        except RunwayImgError:
            _print_auth(info, json_out)  # where the key comes from is still worth showing
            raise
    info["valid"] = True
    info["creditBalance"] = org.get("creditBalance")
    _print_auth(info, json_out)


def _print_auth(info: dict[str, Any], json_out: bool) -> None:
    if json_out:
        render.print_json(info)
        return
    render.data(f"Key:     {info['key']} (from {info['source']})")
    render.data(f"API:     {info['baseUrl']}")
    if info["valid"]:
        render.data(f"Valid:   yes (credit balance: {info.get('creditBalance')})")
    elif info["valid"] is None:
        render.data("Valid:   unknown (the API could not be reached)")
    else:
        render.data("Valid:   no")


@auth_app.command("logout")
@boundary
def auth_logout() -> None:
    """Remove the stored key."""
    removed = config.delete_key()
    if removed:
        render.note(f"Removed the stored key ({removed}).")
    else:
        render.note("No stored key to remove.")
    if config.env_key_set():
        render.warn(f"{config.KEY_ENV} is still set in your environment.")


# -- sandbox ------------------------------------------------------------------------------------


@app.command("sandbox")
@boundary
def sandbox_serve(
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
) -> None:
    """Serve the local Runway-compatible sandbox in the foreground (Ctrl-C stops it).

    Prints shell lines to point runway-img (or any Runway client) at it.
    """
    from runway_cli.sandbox import SandboxServer, SandboxStateError, load_faults, new_key

    if not 0 < task_seconds < float("inf"):
        raise UsageError(f"--task-seconds must be a positive number, not {task_seconds:g}.")
    rules = load_faults(faults) if faults is not None else []
    chosen_key = key or new_key()
    check_api_key(chosen_key, "--key")
    try:
        server = SandboxServer.for_cli(
            task_seconds=task_seconds,
            state_path=state or config.cache_dir() / "sandbox.sqlite3",
            port=port,
            keys=[chosen_key],
        )
    except SandboxStateError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(
            f"Cannot listen on 127.0.0.1:{port}: {exc.strerror}.",
            hint="Pick another --port (0 = any free port).",
        ) from None
    server.faults.replace(rules)
    render.data(f"export RUNWAYML_BASE_URL={server.base_url}")
    render.data(f"export RUNWAYML_API_SECRET={chosen_key}")
    render.note(f"Sandbox listening on {server.base_url} (no credits are spent). Ctrl-C stops it.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        render.note("Sandbox stopped.")
    finally:
        server.stop()


# -- entry point --------------------------------------------------------------------------------


def _on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    app(prog_name="runway-img")
