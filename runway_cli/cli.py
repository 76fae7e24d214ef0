"""The command line: parse options, call the modules below, render, map errors to exit codes.

This is the only module that imports typer. ``main()`` is the single error boundary: every
expected failure is a ``RunwayImgError`` and becomes one stderr line plus its exit status.
"""

from __future__ import annotations

import getpass
import shlex
import signal
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from runway_cli import __version__, catalog, config, history, render, request
from runway_cli.connect import Connection, connect
from runway_cli.downloads import (
    OutputPlan,
    SavedFile,
    check_destination,
    check_template,
    is_template,
    output_urls,
    save_output,
)
from runway_cli.errors import (
    AmbiguousCreateError,
    AuthenticationError,
    InvalidResponseError,
    RunwayImgError,
    SaveError,
    TaskError,
    UsageError,
)
from runway_cli.exit_codes import ExitStatus, exit_status_for
from runway_cli.references import parse_ref
from runway_cli.validation import (
    check_api_key,
    check_base_url,
    check_task_id,
    check_timeout,
)
from runway_cli.waiting import PollSchedule, wait_for_task

app = typer.Typer(
    name="runway-img",
    help="Turn text prompts into images with the Runway API.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
auth_app = typer.Typer(help="Store, check and remove your Runway API key.", no_args_is_help=True)
app.add_typer(auth_app, name="auth")


class Interrupted(RunwayImgError):
    """Ctrl-C or SIGTERM: exit 130 after saying how to pick up where we left off."""


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
        except Interrupted as exc:
            render.error(exc)
            raise typer.Exit(ExitStatus.INTERRUPTED) from None
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
        help="Runway API key (default: $RUNWAYML_API_SECRET, then the stored key).",
        show_default=False,
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
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
OutputOpt = Annotated[
    str | None,
    typer.Option(
        "-o",
        "--output",
        help="File (or existing folder) to save to. Default: <task id>.<ext> here; "
        "several outputs get numbered names.",
        show_default=False,
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite existing files.")]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for the task before giving up.")
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
    """Turn text prompts into images with the Runway API.

    Exit codes: 0 ok, 1 unexpected error, 2 bad input, 3 missing/invalid key, 4 task failed,
    5 task cancelled, 6 timed out waiting, 7 network/server trouble, 8 saving failed,
    130 interrupted.
    """


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


def _resume_command(task_id: str, output: str | None, conn_flags: list[str]) -> str:
    parts = ["runway-img", "download", task_id]
    if output:
        parts += ["-o", output]
    return shlex.join(parts + conn_flags)


def _conn_flags(sandbox: bool, base_url: str | None) -> list[str]:
    from runway_cli.connect import sandbox_requested

    if sandbox_requested(sandbox):
        return ["--sandbox"]
    return ["--base-url", base_url] if base_url else []


# -- generate ---------------------------------------------------------------------------------


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


@app.command()
@boundary
def generate(
    prompt: Annotated[
        str | None,
        typer.Argument(help='The prompt, or "-" to read it from stdin.', show_default=False),
    ] = None,
    prompt_file: Annotated[
        Path | None,
        typer.Option(
            "--prompt-file", "-f", help="Read the prompt from a UTF-8 file.", show_default=False
        ),
    ] = None,
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model id (see runway-img models).")
    ] = catalog.DEFAULT_MODEL,
    ratio: Annotated[
        str | None,
        typer.Option(
            "--ratio",
            "-r",
            help="WIDTH:HEIGHT, e.g. 1280:720 (default depends on the model).",
            show_default=False,
        ),
    ] = None,
    refs: Annotated[
        list[str] | None,
        typer.Option(
            "--ref",
            help="Reference image: FILE, https:// URL or runway:// URI, optionally TAG=SOURCE "
            "and a @human/@object suffix. Repeatable.",
            show_default=False,
        ),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option("--count", "-n", help="How many images (outputCount).", show_default=False),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed.", show_default=False)
    ] = None,
    public_figures: Annotated[
        str | None,
        typer.Option(
            "--public-figures",
            help="Moderation of public figures: auto or low (contentModeration).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option("--format", help="Output format: png, jpeg or webp.", show_default=False),
    ] = None,
    params: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
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
    plan = OutputPlan(output, force, model=model, seed=prepared.body.get("seed"))
    if not no_wait:
        plan.precheck(prepared.expected_outputs, prepared.expected_ext)
    if dry_run:
        render.print_json(prepared.display_body())
        render.note("Dry run: nothing was sent and no task was created.")
        return
    flags = _conn_flags(sandbox, base_url)

    with connect(api_key=api_key, base_url=base_url, sandbox=sandbox) as conn:
        _announce(conn)
        _upload_refs(conn, prepared)
        body = prepared.body
        record = {
            "model": model,
            "prompt": text,
            "ratio": body.get("ratio"),
            "params": _params(body),
        }
        try:
            created = conn.client.create_text_to_image(body)
        except AmbiguousCreateError as exc:
            history.append("ambiguous", id=None, note=exc.message, **record)
            raise
        except KeyboardInterrupt:
            history.append("ambiguous", id=None, note="interrupted while creating", **record)
            raise Interrupted(
                "Interrupted while creating the task; it may have been created.",
                hint="Check `runway-img history` and the Runway dashboard before generating again.",
            ) from None
        task_id = created["id"]
        history.append("created", id=task_id, **record)
        summary = {"id": task_id, "model": model, "ratio": body.get("ratio"), "prompt": text}
        if no_wait:
            if json_out:
                render.print_json(
                    _result(summary, {"id": task_id, "status": "PENDING", **created}, [])
                )
            else:
                render.data(task_id)
            render.note(
                f"Task {task_id} created. Fetch it later: {_resume_command(task_id, output, flags)}"
            )
            return
        render.note(f"Task {task_id} created.")
        _wait_and_save(conn, task_id, None, plan, timeout, json_out, summary, flags)


def _upload_refs(conn: Connection, prepared: request.Prepared) -> None:
    """Upload local reference images too large to inline; put their runway:// URIs in the body."""
    for index, image in prepared.uploads:
        size = len(image.data) / 2**20
        render.note(f"Uploading {image.path.name} ({size:.1f} MB)...")
        upload = conn.client.create_upload(image.path.name)
        with render.TransferDisplay(f"Uploading {image.path.name}") as display:
            uri = conn.client.upload_file(
                upload, image.path.name, image.data, image.mime, on_progress=display.update
            )
        prepared.body["referenceImages"][index]["uri"] = uri


def _wait_and_save(
    conn: Connection,
    task_id: str,
    current: dict[str, Any] | None,
    plan: OutputPlan,
    timeout: float,
    json_out: bool,
    summary: dict[str, Any],
    flags: list[str],
) -> None:
    resume = _resume_command(task_id, plan.output, flags)
    task: dict[str, Any] = current or {"id": task_id}
    try:
        saved = _wait_and_download(conn, task_id, current, plan, timeout, resume)
    except TaskError as exc:
        if exc.task.get("status") in ("FAILED", "CANCELLED"):
            _finished(exc.task)
        if json_out:
            render.print_json(_result(summary, exc.task or task, []))
        raise
    except SaveError as exc:
        history.append("finished", id=task_id, status="SUCCEEDED", note=f"not saved: {exc.message}")
        raise
    task = saved[0]
    _finished(task, saved[1])
    if json_out:
        render.print_json(_result(summary, task, saved[1]))
    else:
        for item in saved[1]:
            render.data(str(item.path))


def _params(body: dict[str, Any]) -> dict[str, Any]:
    """The request's parameters other than the ones history keeps in their own fields."""
    return {k: v for k, v in body.items() if k not in ("model", "promptText", "ratio")}


def _finished(task: dict[str, Any], saved: list[SavedFile] | None = None) -> None:
    cost = task.get("cost") if isinstance(task.get("cost"), dict) else {}
    history.append(
        "finished",
        id=task.get("id"),
        status=task.get("status"),
        cost=cost.get("credits") if cost else None,
        files=[str(item.path.resolve()) for item in saved or []],
    )


def _wait_and_download(
    conn: Connection,
    task_id: str,
    current: dict[str, Any] | None,
    plan: OutputPlan,
    timeout: float,
    resume: str,
) -> tuple[dict[str, Any], list[SavedFile]]:
    try:
        with render.WaitDisplay(task_id) as display:
            task = wait_for_task(
                conn.client.get_task,
                task_id,
                timeout=timeout,
                schedule=PollSchedule.from_env(),
                on_update=display.update,
                current=current,
            )
    except KeyboardInterrupt:
        raise Interrupted(
            f"Stopped waiting; task {task_id} keeps running on Runway.",
            hint=f"Resume with: {resume}",
        ) from None
    except TaskError as exc:
        if exc.hint is None and exc.task.get("status") not in ("FAILED", "CANCELLED"):
            exc.hint = f"Resume with: {resume}"
        raise
    except RunwayImgError as exc:
        # Polling failed, but the task exists and is paid for: never lose its id.
        exc.hint = f"Task {task_id} was created; resume with: {resume}"
        raise
    urls = output_urls(task)
    if not urls:
        raise InvalidResponseError(
            f"Task {task_id} succeeded but returned no output URLs.",
            hint=f"Try again later with: {resume}",
        )
    try:
        saved = _save_all(conn, task_id, urls, plan)
    except SaveError as exc:
        exc.hint = f"Task {task_id} succeeded; nothing was overwritten. Retry with: {resume}"
        raise
    except KeyboardInterrupt:
        raise Interrupted(
            f"Download interrupted; task {task_id} succeeded and its image is still on Runway.",
            hint=f"Resume with: {resume}",
        ) from None
    return task, saved


def _save_all(conn: Connection, task_id: str, urls: list[str], plan: OutputPlan) -> list[SavedFile]:
    count = len(urls)
    if plan.output is not None:
        for path in plan.paths(task_id, count, "png"):
            try:
                check_destination(path, force=plan.force, make_folders=plan.make_folders)
            except UsageError as exc:
                raise SaveError(exc.message, task_id=task_id) from None
    saved: list[SavedFile] = []
    warned: set[str] = set()
    for index, url in enumerate(urls):

        def choose(kind: str, index: int = index) -> Path:
            path = plan.paths(task_id, count, kind)[index]
            if path.exists() and not plan.force:
                raise SaveError(f"{path} already exists.", task_id=task_id)
            return path

        def refresh(index: int = index) -> str:
            try:
                fresh = output_urls(conn.client.get_task(task_id))
            except RunwayImgError as exc:
                raise SaveError(f"Could not refresh the output URLs: {exc.message}") from None
            if index >= len(fresh):
                raise SaveError(f"Task {task_id} no longer lists output {index + 1}.")
            return fresh[index]

        item = save_output(
            conn.client,
            url,
            choose,
            force=plan.force,
            make_folders=plan.make_folders,
            refresh_url=refresh,
        )
        mismatch = plan.extension_mismatch(item.kind)
        if mismatch and mismatch not in warned:
            render.warn(mismatch)
            warned.add(mismatch)
        saved.append(item)
    return saved


def _result(
    summary: dict[str, Any], task: dict[str, Any], saved: list[SavedFile]
) -> dict[str, Any]:
    cost = task.get("cost") or task.get("estimatedCost") or {}
    result: dict[str, Any] = {
        "id": task.get("id", summary.get("id")),
        "status": task.get("status"),
        "model": summary.get("model"),
        "ratio": summary.get("ratio"),
        "prompt": summary.get("prompt"),
        "output": task.get("output") or [],
        "files": [str(item.path) for item in saved],
        "cost": cost.get("credits") if isinstance(cost, dict) else None,
    }
    if task.get("status") == "FAILED":
        result["failure"] = task.get("failure")
        result["failureCode"] = task.get("failureCode")
    return result


# -- status & download ------------------------------------------------------------------------


@app.command()
@boundary
def status(
    task_id: Annotated[str, typer.Argument(help="The task id (a UUID).")],
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
        typer.Argument(help="The task id (a UUID).", show_default=False),
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
    """Save a task's images (waiting first if it is still running)."""
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
    flags = _conn_flags(sandbox, base_url)
    with connect(api_key=api_key, base_url=base_url, sandbox=sandbox) as conn:
        _announce(conn)
        task = conn.client.get_task(task_id)
        summary: dict[str, Any] = {"id": task_id}
        plan = OutputPlan(output, force)
        if plan.output is not None and is_template(plan.output):
            check_template(plan.output)
        _wait_and_save(conn, task_id, task, plan, timeout, json_out, summary, flags)


@app.command("models")
@boundary
def models_cmd(
    model_id: Annotated[
        str | None, typer.Argument(help="Show one model in full.", show_default=False)
    ] = None,
    json_out: JsonOpt = False,
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
    json_out: JsonOpt = False,
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
    if with_token or not sys.stdin.isatty():
        key = sys.stdin.readline().strip()
    else:
        try:
            key = getpass.getpass("Paste your Runway API key (input is hidden): ").strip()
        except EOFError:
            raise UsageError("No key entered.") from None
    check_api_key(key, "stdin" if with_token or not sys.stdin.isatty() else "the prompt")
    if verify:
        from runway_cli.client import RunwayClient

        url = check_base_url(config.resolve_base_url(base_url))
        with RunwayClient(url, key) as client:
            try:
                org = client.get_organization()
            except AuthenticationError as exc:
                exc.message = "Runway rejected this key (HTTP 401); it was not stored."
                raise
        balance = org.get("creditBalance")
        render.note(f"Key accepted by {url} (credit balance: {balance}).")
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
    resolved, warnings = config.resolve_key(api_key)
    for line in warnings:
        render.warn(line)
    from runway_cli.client import RunwayClient

    url = check_base_url(config.resolve_base_url(base_url))
    info: dict[str, Any] = {
        "source": resolved.source,
        "key": config.mask_key(resolved.key),
        "baseUrl": url,
    }
    with RunwayClient(url, resolved.key) as client:
        try:
            org = client.get_organization()
        except AuthenticationError as exc:
            info["valid"] = False
            _print_auth(info, json_out)
            exc.message = f"The key from {resolved.source} was rejected (HTTP 401)."
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
    if info.get("valid"):
        render.data(f"Valid:   yes (credit balance: {info.get('creditBalance')})")
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
    import os

    if os.environ.get(config.KEY_ENV):
        render.warn(f"{config.KEY_ENV} is still set in your environment.")


# -- sandbox ------------------------------------------------------------------------------------


@app.command("sandbox")
@boundary
def sandbox_serve(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0 = any free).")] = 8765,
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
) -> None:
    """Serve the local Runway-compatible sandbox in the foreground (Ctrl-C stops it).

    Prints shell lines to point runway-img (or any Runway client) at it.
    """
    from runway_cli.sandbox import SandboxServer, Timeline, new_key

    check_timeout(task_seconds)
    chosen_key = key or new_key()
    check_api_key(chosen_key, "--key")
    try:
        server = SandboxServer(
            port=port,
            keys=[chosen_key],
            state_path=state or config.cache_dir() / "sandbox.sqlite3",
            timeline=Timeline(pending=task_seconds * 0.2, running=task_seconds * 0.8),
        )
    except OSError as exc:
        raise UsageError(
            f"Cannot listen on 127.0.0.1:{port}: {exc.strerror}.",
            hint="Pick another --port (0 = any free port).",
        ) from None
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
