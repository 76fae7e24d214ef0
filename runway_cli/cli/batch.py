"""``runway-img batch``: many prompts from a file, resumable, within a budget."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runway_cli.cli import options
from runway_cli.cli.boundary import boundary
from runway_cli.cli.options import (
    ApiKeyOpt,
    BaseUrlOpt,
    CountOpt,
    ForceOpt,
    FormatOpt,
    JsonOpt,
    ModelOpt,
    ParamOpt,
    ProfileOpt,
    QuietOpt,
    RatioOpt,
    RefOpt,
    SandboxOpt,
    SeedOpt,
    TimeoutOpt,
    VerboseOpt,
    YesOpt,
)

if TYPE_CHECKING:
    from runway_cli.batch.session import BatchRequest, Checked
    from runway_cli.batch.summary import BatchSummary
    from runway_cli.settings import Settings

EXAMPLE = "Example: runway-img batch prompts.txt -o renders/ --vary seed=1,2,3 --max-credits 200"


@boundary
def batch(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            help="One prompt per line, or JSON Lines with prompt, model, ratio, seed, refs, "
            'count, format, params, output; "-" reads stdin.',
        ),
    ],
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            "-o",
            metavar="DIR",
            help="Folder for the images, manifest.jsonl and index.html (created if missing). "
            "Default: the profile's output-dir, else here.",
            show_default=False,
        ),
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            metavar="FILE",
            help="The manifest that makes reruns resume (default: DIR/manifest.jsonl).",
            show_default=False,
        ),
    ] = None,
    model: ModelOpt = None,
    ratio: RatioOpt = None,
    refs: RefOpt = None,
    count: CountOpt = None,
    seed: SeedOpt = None,
    output_format: FormatOpt = None,
    params: ParamOpt = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="TEMPLATE",
            help="File name inside DIR for items without their own output, e.g. "
            "'{model}/{id}.{ext}'. Default: <task id>.<ext>.",
            show_default=False,
        ),
    ] = None,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            "--vary",
            metavar="KEY=V1,V2",
            help="Make every item once per value (model, ratio, seed, count, format or a "
            "parameter); several --vary make a grid. Repeatable.",
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            metavar="N",
            help="Tasks in flight at once. Default: per model, the account's "
            "maxConcurrentGenerations (else 2), at most 16 in all.",
            show_default=False,
        ),
    ] = None,
    max_credits: Annotated[
        float | None,
        typer.Option(
            "--max-credits",
            metavar="N",
            help="Stop creating before the manifest's credits (spent, in flight, and the next "
            "task's expected cost) would pass N.",
            show_default=False,
        ),
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Create FAILED or CANCELLED items again.")
    ] = False,
    resend_unknown: Annotated[
        bool,
        typer.Option(
            "--resend-unknown",
            help="Create again the items whose create may have reached Runway (may bill twice).",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check every item; print tasks, images and credits."),
    ] = False,
    yes: YesOpt = False,
    force: ForceOpt = False,
    timeout: TimeoutOpt = 600.0,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    api_key: ApiKeyOpt = None,
    base_url: BaseUrlOpt = None,
    sandbox: SandboxOpt = False,
    profile: ProfileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Make an image for every line of FILE: validated first, resumable, within a budget.

    Writes DIR/manifest.jsonl (rerun the same command to continue where it stopped) and a
    contact sheet, DIR/index.html. Prints the saved paths (one per line) on stdout.
    """
    options.begin(json_out=json_out, quiet=quiet)
    from runway_cli.batch.items import Defaults
    from runway_cli.batch.session import BatchRequest
    from runway_cli.cli import contract
    from runway_cli.input_checks import check_timeout

    contract.known({"tasks": 0, "done": 0})
    settings = options.resolve(
        api_key=api_key, base_url=base_url, sandbox=sandbox, profile=profile, verbose=verbose
    )
    chosen, _, folder = options.profile_defaults(settings, model, None, None)
    profile_ratio = settings.defaults.get("ratio")  # per item: where its model takes it
    check_timeout(timeout)
    request = BatchRequest(
        source=file,
        defaults=Defaults(
            model=chosen,
            ratio=ratio,
            seed=seed,
            count=count,
            refs=tuple(refs or ()),
            params=tuple(params or ()),
            output_format=output_format,
            output=name,
            profile_ratio=profile_ratio if ratio is None else None,
        ),
        vary=tuple(vary or ()),
        output_dir=output_dir or Path(folder or "."),
        manifest=manifest,
        concurrency=concurrency,
        max_credits=max_credits,
        timeout=timeout,
        force=force,
        retry_failed=retry_failed,
        resend_unknown=resend_unknown,
    )
    checked = _check(request)
    if dry_run:
        _show_dry_run(checked, json_out)
        return
    _confirm(checked, yes)
    summary = _execute(checked, settings)
    _show(summary, json_out)
    if summary.fatal is not None:  # after the summary: what was saved is listed either way
        raise summary.fatal
    status = summary.exit_status
    if status:
        raise typer.Exit(int(status))


def _check(request: BatchRequest) -> Checked:
    """Every item checked; every bad line listed on stderr (and in the JSON error object)."""
    from runway_cli import render
    from runway_cli.batch.session import BatchInvalid, check
    from runway_cli.cli import contract
    from runway_cli.render.batch_display import problem_lines

    try:
        checked = check(request)
    except BatchInvalid as exc:
        problems = [{"line": p.line, "where": p.where, "reason": p.reason} for p in exc.problems]
        contract.known({"problems": problems})
        problem_lines(exc.problems)
        raise
    for line in checked.plan.warnings:
        render.warn(line)
    if checked.state.bad_lines:
        render.warn(
            f"{checked.state.bad_lines} line(s) of the manifest {checked.request.manifest_path} "
            "are torn or have fields of the wrong type; what could be read of them is used "
            "(an item whose task id cannot be read is never created again without "
            "--resend-unknown)."
        )  # lines that name no item at all stop the run first (session.check)
    return checked


def _show_dry_run(checked: Checked, json_out: bool) -> None:
    from runway_cli import render
    from runway_cli.batch.session import dry_run
    from runway_cli.cli import contract
    from runway_cli.render.batch_display import dry_run_lines

    dry = dry_run(checked)
    if json_out:
        contract.emit(dry.to_json())
    for line in dry_run_lines(dry):
        render.note(line)


def _confirm(checked: Checked, yes: bool) -> None:
    """More than 50 tasks on a terminal: ask first (a --vary typo multiplies the bill)."""
    from runway_cli.batch.session import CONFIRM_OVER, dry_run
    from runway_cli.errors import UsageError
    from runway_cli.prompt_input import confirm, stdin_is_terminal
    from runway_cli.render.batch_display import dry_run_lines

    creates = len(checked.resumption.creates)
    if yes or creates <= CONFIRM_OVER or not stdin_is_terminal():
        return
    question = " ".join(dry_run_lines(dry_run(checked))[:2]).replace("Would create", "Create")
    if not confirm(question.rstrip(".") + "?"):
        raise UsageError("Not confirmed; nothing was created.", hint="--yes skips the question.")


def _execute(checked: Checked, settings: Settings) -> BatchSummary:
    from runway_cli import render
    from runway_cli.batch.session import execute
    from runway_cli.connection import connect
    from runway_cli.history import History
    from runway_cli.render.batch_display import BatchDisplay
    from runway_cli.workflow import Workflow

    history = History(settings.paths.history)
    with (
        connect(settings, pool_size=checked.request.pool_size) as conn,
        BatchDisplay() as display,
    ):
        for line in conn.notes:
            display.note(line)
        for line in conn.warnings:
            display.warning(line)
        if not conn.sandbox:
            conn.client.on_sandbox = lambda url: render.note(
                f"{url} is a runway-img sandbox: no credits are spent."
            )
        conn.client.on_retry = display.retrying
        return execute(
            checked,
            client=conn.client,
            workflow=lambda reporter, sleep: Workflow(
                conn.client, history, reporter, sandbox=conn.sandbox, sleep=sleep
            ),
            reporter=display,
            schedule=settings.poll,
        )


def _show(summary: BatchSummary, json_out: bool) -> None:
    """The summary on stderr; on stdout the JSON object, or every saved path."""
    from runway_cli import render
    from runway_cli.batch.events import ItemStatus
    from runway_cli.cli import contract
    from runway_cli.render.batch_display import summary_lines

    for line in summary_lines(summary):
        render.note(line)
    if json_out:
        if summary.fatal is not None:  # printed with its ``error`` member as the run ends
            contract.known(summary.to_json())
        else:
            contract.emit(summary.to_json())
        return
    for item in summary.items:
        if item.status is ItemStatus.DONE:
            for path in item.files:
                render.data(path)
