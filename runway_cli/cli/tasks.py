"""Commands on tasks that already exist: ``status``, ``download`` and ``history``."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from runway_cli.cli import completion, options
from runway_cli.cli.boundary import boundary
from runway_cli.cli.options import (
    ApiKeyOpt,
    BaseUrlOpt,
    CancelOnTimeoutOpt,
    ForceOpt,
    JsonOpt,
    OpenOpt,
    OutputOpt,
    ProfileOpt,
    QuietOpt,
    SandboxOpt,
    TimeoutOpt,
    VerboseOpt,
    YesOpt,
)

if TYPE_CHECKING:
    from runway_cli.history import History, Snapshot

TaskIdArg = Annotated[
    str,
    typer.Argument(
        metavar="TASK_ID",
        help="The task id (a UUID).",
        autocompletion=completion.complete_task_id,
    ),
]


@boundary
def status(
    task_id: TaskIdArg,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the API's task object as JSON.")
    ] = False,
    quiet: QuietOpt = False,
    api_key: ApiKeyOpt = None,
    base_url: BaseUrlOpt = None,
    sandbox: SandboxOpt = False,
    profile: ProfileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Show a task: state, progress, created time, cost, outputs or failure."""
    from runway_cli import render
    from runway_cli.cli import contract, runs
    from runway_cli.input_checks import check_task_id

    options.begin(json_out=json_out, quiet=quiet)
    contract.known({"id": task_id})
    settings = options.resolve(
        api_key=api_key, base_url=base_url, sandbox=sandbox, profile=profile, verbose=verbose
    )
    task_id = check_task_id(task_id)
    with runs.connected(settings) as (conn, _):
        task = conn.client.get_task(task_id)
    if json_out:
        contract.emit(dict(task.raw))
    else:
        for line in render.task_view(task):
            render.data(line)


@boundary
def download(
    task_id: Annotated[
        str | None,
        typer.Argument(
            metavar="TASK_ID",
            help="The task id (a UUID).",
            show_default=False,
            autocompletion=completion.complete_task_id,
        ),
    ] = None,
    last: Annotated[
        bool, typer.Option("--last", help="Use the newest task in the local history.")
    ] = False,
    output: OutputOpt = None,
    force: ForceOpt = False,
    timeout: TimeoutOpt = 600.0,
    cancel_on_timeout: CancelOnTimeoutOpt = False,
    open_: OpenOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    api_key: ApiKeyOpt = None,
    base_url: BaseUrlOpt = None,
    sandbox: SandboxOpt = False,
    profile: ProfileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Save a task's images from fresh URLs (waiting first if it is still running)."""
    from runway_cli import render
    from runway_cli.cli import contract, runs
    from runway_cli.cli.resume import Resume
    from runway_cli.errors import RunwayImgError, UsageError
    from runway_cli.history import History, Snapshot
    from runway_cli.input_checks import check_output_option, check_task_id, check_timeout
    from runway_cli.output_paths import OutputPlan
    from runway_cli.results import TaskSummary, task_result
    from runway_cli.workflow import FollowPlan

    options.begin(json_out=json_out, quiet=quiet)
    contract.known(task_result(TaskSummary(task_id), None))
    settings = options.resolve(
        api_key=api_key, base_url=base_url, sandbox=sandbox, profile=profile, verbose=verbose
    )
    if last == (task_id is not None):
        raise UsageError("Give a task id or --last (not both).")
    history = History(settings.paths.history)
    try:
        snapshot = history.read()
    except UsageError as exc:
        if last:
            raise
        render.warn(f"{exc.message} Continuing without it.")
        snapshot = Snapshot([])
    if snapshot.bad_lines:
        render.warn(f"Skipped {snapshot.bad_lines} unreadable line(s) in {history.path}.")
    if task_id is None:
        task_id = _newest_task_id(snapshot, history)
        render.note(f"Newest task in history: {task_id}")
    task_id = check_task_id(task_id)
    check_timeout(timeout)
    check_output_option(output)
    dest = runs.destination(output, json_out=json_out, expected=None)
    # The API does not return a task's model, prompt or seed; the local history may know them.
    known = snapshot.find(task_id)
    seed = known.params.get("seed") if known else None
    plan = OutputPlan(
        dest.output,
        force,
        model=known.model if known else None,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
    )
    plan.precheck(1, "png", folder_only=True)
    if known is not None and known.sandbox and not settings.sandbox and not base_url:
        render.note(f"Task {task_id} was made in the built-in sandbox; fetching it from there.")
        settings = replace(settings, sandbox=True)
    summary = TaskSummary(task_id)
    if known is not None:
        summary = TaskSummary(task_id, model=known.model, ratio=known.ratio, prompt=known.prompt)
    contract.known(task_result(summary, None))
    resume = Resume.for_run(settings, output, force)
    follow = FollowPlan(plan, timeout, settings.poll, cancel_on_timeout, to_stdout=dest.to_stdout)
    with runs.start(settings, label="Downloading") as run:
        try:
            outcome = run.workflow.download(task_id, follow)
        except RunwayImgError as exc:
            runs.discard(dest)
            runs.report_failure(exc, summary, resume, json_out)
            raise
    runs.deliver(dest, summary, outcome, json_out=json_out, open_=open_)


def _newest_task_id(snapshot: Snapshot, history: History) -> str:
    from runway_cli.errors import UsageError

    pick = "Pick a task explicitly: runway-img history, then runway-img download TASK_ID"
    if snapshot.torn_tail:
        raise UsageError(
            f"The last line of the history ({history.path}) was cut short, so the newest "
            "task's record may be lost and --last cannot tell which task is newest.",
            hint=pick,
        )
    if not snapshot.entries:
        raise UsageError(f"No tasks in the local history ({history.path}).")
    newest = snapshot.entries[0]
    if newest.id is None:
        raise UsageError(
            "The newest task in the history has no id: its create may or may not have reached "
            "Runway, so --last cannot tell which task to fetch.",
            hint=pick,
        )
    return newest.id


@boundary
def history(
    limit: Annotated[int, typer.Option("-n", "--limit", help="How many tasks to show.")] = 20,
    clear: Annotated[
        bool, typer.Option("--clear", help="Remove every task from the history.")
    ] = False,
    prune: Annotated[
        float | None,
        typer.Option(
            "--prune-older-than",
            metavar="DAYS",
            help="Remove tasks created more than DAYS days ago.",
            show_default=False,
        ),
    ] = None,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """List recent tasks from the local history (newest first), or remove old ones.

    Prompts are kept in plain text; --clear and --prune-older-than remove them (asking first
    on a terminal).
    """
    from runway_cli import render
    from runway_cli.cli import contract
    from runway_cli.errors import UsageError
    from runway_cli.history import History

    options.begin(json_out=json_out, quiet=quiet)
    settings = options.resolve()
    store = History(settings.paths.history)
    if clear or prune is not None:
        _remove_history(store, clear=clear, days=prune, yes=yes, json_out=json_out)
        return
    contract.known({"tasks": []})
    if limit <= 0:
        raise UsageError("-n must be a positive number.")
    snapshot = store.read()
    if snapshot.bad_lines:
        render.warn(
            f"Skipped {snapshot.bad_lines} unreadable line(s) in the history ({store.path})."
        )
    rows = snapshot.entries[:limit]
    if json_out:
        contract.emit({"tasks": [row.to_json() for row in rows]})
        return
    if not rows:
        render.note(f"No tasks yet (history file: {store.path}).")
        return
    for line in render.history_lines(rows):
        render.data(line)


def _remove_history(
    store: History, *, clear: bool, days: float | None, yes: bool, json_out: bool
) -> None:
    import math

    from runway_cli import render
    from runway_cli.cli import contract
    from runway_cli.errors import UsageError
    from runway_cli.prompt_input import confirm, stdin_is_terminal

    contract.known({"removed": 0, "kept": None})
    if clear and days is not None:
        raise UsageError("Give --clear or --prune-older-than, not both.")
    if days is not None and not (math.isfinite(days) and days >= 0):
        raise UsageError(f"--prune-older-than must be a number of days >= 0, not {days:g}.")
    what = "every task" if clear else f"tasks created more than {days:g} days ago"
    if not yes and stdin_is_terminal():
        question = f"Remove {what} from {store.path}?"
        if not confirm(question):
            render.note("Nothing was removed.")
            if json_out:
                contract.emit({"removed": 0, "kept": None})
            return
    if clear:
        removed, kept = store.clear(), 0
    else:
        assert days is not None
        removed, kept = store.prune(days)
    render.note(f"Removed {removed} task(s) from the history; {kept} kept.")
    if json_out:
        contract.emit({"removed": removed, "kept": kept})
