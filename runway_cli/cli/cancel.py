"""``runway-img cancel``: cancel tasks in progress, or delete finished ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from runway_cli.cli import completion, options
from runway_cli.cli.boundary import boundary
from runway_cli.cli.options import (
    ApiKeyOpt,
    BaseUrlOpt,
    JsonOpt,
    ProfileOpt,
    QuietOpt,
    SandboxOpt,
    VerboseOpt,
    YesOpt,
)

if TYPE_CHECKING:
    from runway_cli.api.types import Task

EXAMPLE = "Example: runway-img cancel 8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b"
_SAID = {
    "cancelled": "Cancelled task {id} (it was {status}).",
    "deleted": "Deleted task {id} (it had {status}); its outputs can no longer be fetched.",
    "gone": "Task {id} is already gone (cancelled or deleted).",
    "kept": "Kept task {id} ({status}): deleting a finished task needs confirmation or --yes.",
}


@boundary
def cancel(
    task_ids: Annotated[
        list[str],
        typer.Argument(
            metavar="TASK_ID...",
            help="One or more task ids.",
            autocompletion=completion.complete_task_id,
        ),
    ],
    yes: YesOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
    api_key: ApiKeyOpt = None,
    base_url: BaseUrlOpt = None,
    sandbox: SandboxOpt = False,
    profile: ProfileOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Cancel tasks still in progress, or delete finished ones (after a confirmation).

    Refunds depend on the state the server saw when it got the request.
    """
    from runway_cli import render
    from runway_cli.cli import contract, runs
    from runway_cli.errors import UsageError
    from runway_cli.input_checks import check_task_id

    options.begin(json_out=json_out, quiet=quiet)
    contract.known({"tasks": []})
    ids = [check_task_id(t) for t in task_ids]
    settings = options.resolve(
        api_key=api_key, base_url=base_url, sandbox=sandbox, profile=profile, verbose=verbose
    )
    results = []
    with runs.start(settings, label="Cancelling") as run:
        for task_id in ids:
            done = run.workflow.cancel(task_id, lambda task: _confirm_delete(task, yes))
            results.append(done)
            contract.known({"tasks": [r.__dict__ for r in results]})
            render.note(_SAID[done.action].format(id=done.id, status=(done.status or "").lower()))
    if any(r.action == "cancelled" for r in results):  # only a cancel can be refunded
        render.note("Refunds depend on the state the server saw when it got the request.")
    kept = [r.id for r in results if r.action == "kept"]
    if kept:
        raise UsageError(
            f"Not deleted without confirmation: {', '.join(kept)}.",
            hint="Pass --yes to delete finished tasks.",
        )
    if json_out:
        contract.emit({"tasks": [r.__dict__ for r in results]})


def _confirm_delete(task: Task, yes: bool) -> bool:
    """Deleting a finished task loses its outputs: --yes, or a yes on a terminal."""
    from runway_cli.prompt_input import confirm, stdin_is_terminal

    if yes:
        return True
    if not stdin_is_terminal():
        return False
    return confirm(
        f"Task {task.id} has {task.status_text.lower()}; delete it (its outputs are lost)?"
    )
