"""``runway-img generate``: create an image from a prompt, wait for it, save it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from runway_cli.cli import completion, options
from runway_cli.cli.boundary import boundary
from runway_cli.cli.options import (
    ApiKeyOpt,
    BaseUrlOpt,
    CancelOnTimeoutOpt,
    CountOpt,
    ForceOpt,
    FormatOpt,
    JsonOpt,
    ModelOpt,
    OpenOpt,
    OutputOpt,
    ParamOpt,
    ProfileOpt,
    QuietOpt,
    RatioOpt,
    RefOpt,
    SandboxOpt,
    SeedOpt,
    TimeoutOpt,
    VerboseOpt,
)

EXAMPLE = 'Example: runway-img generate "a lighthouse at dusk" --ratio 1280:720 -o lighthouse.png'


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
            readable=False,  # read_prompt says why a file cannot be read, in one line
        ),
    ] = None,
    model: ModelOpt = None,
    ratio: RatioOpt = None,
    refs: RefOpt = None,
    count: CountOpt = None,
    seed: SeedOpt = None,
    public_figures: Annotated[
        str | None,
        typer.Option(
            "--public-figures",
            metavar="auto|low",
            help="Moderation of public figures: auto or low (contentModeration).",
            show_default=False,
            autocompletion=completion.complete_public_figures,
        ),
    ] = None,
    output_format: FormatOpt = None,
    params: ParamOpt = None,
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
    """Create an image from PROMPT, wait for it and save it.

    Prints the saved file paths (one per line) on stdout.
    """
    options.begin(json_out=json_out, quiet=quiet)
    from runway_cli import render
    from runway_cli.api.types import Task
    from runway_cli.cli import contract, runs
    from runway_cli.cli.resume import Resume
    from runway_cli.errors import RunwayImgError, StdoutError
    from runway_cli.input_checks import check_output_option, check_timeout
    from runway_cli.output_paths import OutputPlan
    from runway_cli.prompt_input import read_prompt, stdin_is_terminal
    from runway_cli.references import parse_ref
    from runway_cli.request_body import Options, build
    from runway_cli.results import TaskSummary, task_result
    from runway_cli.workflow import FollowPlan

    contract.known(task_result(TaskSummary(model=model, ratio=ratio), None))
    settings = options.resolve(
        api_key=api_key, base_url=base_url, sandbox=sandbox, profile=profile, verbose=verbose
    )
    model, ratio, output = options.profile_defaults(settings, model, ratio, output)
    if prompt == "-" and stdin_is_terminal():
        render.note("Reading the prompt from stdin; end with Ctrl-D.")
    text = read_prompt(prompt, prompt_file)
    prepared = build(
        Options(
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
    check_output_option(output)
    dest = runs.destination(output, json_out=json_out, expected=prepared.expected_outputs)
    plan = OutputPlan(dest.output, force, model=model, seed=prepared.body.get("seed"))
    if dry_run:
        runs.discard(dest)
        plan.precheck_template()
        contract.emit(prepared.display_body())  # the body is the JSON object, --json or not
        render.note("Dry run: nothing was sent and no task was created.")
        return
    # With --no-wait nothing is saved now, but the -o in the resume command must be usable.
    plan.precheck(prepared.expected_outputs, prepared.expected_ext, folder_only=no_wait)
    resume = Resume.for_run(settings, output, force)
    summary = TaskSummary(model=model, ratio=prepared.body.get("ratio"), prompt=text)
    contract.known(task_result(summary, None))
    follow = None
    if not no_wait:
        follow = FollowPlan(
            plan, timeout, settings.poll, cancel_on_timeout, to_stdout=dest.to_stdout
        )
    with runs.start(settings) as run:
        try:
            created, outcome = run.workflow.generate(prepared, follow)
        except RunwayImgError as exc:
            runs.discard(dest)
            runs.report_failure(exc, summary, resume, json_out)
            raise
    summary = TaskSummary(created.id, model=summary.model, ratio=summary.ratio, prompt=text)
    if outcome is not None:
        runs.deliver(dest, summary, outcome, json_out=json_out, open_=open_)
        return
    runs.discard(dest)
    try:
        if json_out:
            pending = Task.placeholder(created.id, credits=created.estimated_credits)
            contract.emit(task_result(summary, pending))
        else:
            render.data(created.id)
    except StdoutError as exc:
        if exc.broken_pipe:
            raise
        # stdout was to carry the id: it must reach stderr instead (-q hides the notes).
        raise StdoutError(
            f"{exc.message} Task {created.id} was created; fetch it later: "
            f"{resume.command(created.id)}",
            broken_pipe=False,
            task_id=created.id,
        ) from exc
    render.note(f"Fetch it later: {resume.command(created.id)}")
