"""The steps of ``runway-img batch``, from the file to the summary.

``check`` reads and validates everything without sending anything (every bad line at once;
``BatchInvalid``); ``dry_run`` says what a run would do; ``execute`` locks the manifest, asks
the account for its concurrency limits, runs the batch and adds up the result. The command
layer calls these and renders; it holds no batch logic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from runway_cli.batch.budget import Budget
from runway_cli.batch.contact_sheet import SHEET_NAME, SheetWriter
from runway_cli.batch.events import BatchReporter, ItemStatus
from runway_cli.batch.grid import parse_vary
from runway_cli.batch.items import BatchItem, BatchPlan, Defaults, load
from runway_cli.batch.lines import Problem, read_source
from runway_cli.batch.manifest import Manifest, ManifestState, read_state
from runway_cli.batch.resume import Resumption, resume
from runway_cli.batch.runner import BatchRunner, WorkflowFactory
from runway_cli.batch.runner import Settings as RunnerSettings
from runway_cli.batch.slots import DEFAULT_PER_MODEL, DEFAULT_TOTAL, Slots
from runway_cli.batch.summary import BatchSummary, DryRun, item_summaries
from runway_cli.errors import (
    AuthenticationError,
    PermissionDeniedError,
    RunwayImgError,
    UsageError,
)
from runway_cli.output_paths import (
    PROBE_ID,
    exists,
    is_template,
    plan_paths,
    too_long_name,
)
from runway_cli.polling import PollSchedule

if TYPE_CHECKING:
    from runway_cli.api.client import RunwayClient

MANIFEST_NAME = "manifest.jsonl"
CONFIRM_OVER = 50  # tasks: more than this asks first on a terminal (a --vary typo multiplies)


@dataclass(frozen=True)
class BatchRequest:
    source: str  # a file, or - for stdin
    defaults: Defaults
    vary: tuple[str, ...] = ()
    output_dir: Path = field(default_factory=Path)
    manifest: Path | None = None
    concurrency: int | None = None
    max_credits: float | None = None
    timeout: float = 600.0
    force: bool = False
    retry_failed: bool = False
    resend_unknown: bool = False

    @property
    def manifest_path(self) -> Path:
        return self.manifest if self.manifest is not None else self.output_dir / MANIFEST_NAME

    @property
    def sheet_path(self) -> Path:
        return self.output_dir / SHEET_NAME

    @property
    def pool_size(self) -> int:
        """HTTP connections: one per task in flight and one per download (as many), the
        create, and a spare."""
        return 2 * (self.concurrency or DEFAULT_TOTAL) + 2


class BatchInvalid(UsageError):
    """Some items are invalid: every problem, each naming its line. Nothing was sent."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        count = len(problems)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} in the batch (listed above); "
            "nothing was created.",
            hint="Fix the lines and run the same command again.",
        )
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Checked:
    request: BatchRequest
    plan: BatchPlan
    state: ManifestState  # as read before the run (the run reads it again, locked)
    resumption: Resumption


def check(request: BatchRequest) -> Checked:
    """Read and check every item and where it will be saved; BatchInvalid lists them all."""
    if request.concurrency is not None and request.concurrency < 1:
        raise UsageError("--concurrency must be at least 1.")
    if request.max_credits is not None and request.max_credits < 0:
        raise UsageError("--max-credits must not be negative.")
    if exists(request.output_dir) and not request.output_dir.is_dir():
        raise UsageError(f"--output-dir {request.output_dir} is not a folder.")
    varies = parse_vary(request.vary)
    plan = load(read_source(request.source), request.defaults, varies)
    state = read_state(request.manifest_path)
    resumption = resume(
        plan.items,
        state,
        retry_failed=request.retry_failed,
        resend_unknown=request.resend_unknown,
    )
    if state.orphan_lines and resumption.creates and not request.resend_unknown:
        lines = ", ".join(str(n) for n in state.orphan_lines[:10])
        raise UsageError(
            f"The manifest {request.manifest_path} has lines that name no item ({lines}); one "
            "may record a task already created, and creating its item again would bill it "
            "twice.",
            hint="Fix or delete those lines, or pass --resend-unknown to create such items.",
        )
    problems = [*plan.problems, *_taken_destinations(resumption.creates, request)]
    if problems:
        raise BatchInvalid(sorted(problems, key=lambda p: p.line))
    return Checked(request, plan, state, resumption)


def _taken_destinations(items: Sequence[BatchItem], request: BatchRequest) -> list[Problem]:
    """Items to create whose output names the file system cannot take, or whose fixed output
    file exists already (without --force)."""
    problems = []
    for item in items:
        output = item.output if item.output is not None else "{id}.{ext}"
        for path in plan_paths(
            PROBE_ID, item.images, output, item.ext, model=item.model, seed=item.seed
        ):
            where = request.output_dir / path
            too_long = too_long_name(where)
            if too_long is not None:
                size, limit = too_long
                problems.append(
                    Problem(
                        item.line,
                        f"its file name would be {size} bytes, longer than the file system "
                        f"takes ({limit}); shorten --name or its output",
                    )
                )
                break
            fixed = not (is_template(output) and "{id}" in output)
            if fixed and not request.force and exists(where):
                problems.append(
                    Problem(item.line, f"{where} already exists (--force overwrites it)")
                )
    return problems


def dry_run(checked: Checked) -> DryRun:
    resumption = checked.resumption
    creates = resumption.creates
    credits = 0.0
    unknown: dict[str, None] = {}
    for item in creates:
        per_image = checked.state.per_image.get(item.model)
        if per_image is None:
            unknown[item.model] = None
        else:
            credits += per_image * item.images
    return DryRun(
        tasks=len(creates),
        images=sum(item.images for item in creates),
        credits=credits,
        unknown_cost_models=tuple(unknown),
        skipped=resumption.count(ItemStatus.DONE),
        reattach=resumption.reattaches,
        unknown=resumption.count(ItemStatus.UNKNOWN),
        failed=resumption.count(ItemStatus.FAILED),
    )


def execute(
    checked: Checked,
    *,
    client: RunwayClient,
    workflow: WorkflowFactory,
    reporter: BatchReporter,
    schedule: PollSchedule,
    clock: Callable[[], float] = time.monotonic,
) -> BatchSummary:
    """Run the batch; the summary says how it went (its ``exit_status`` too)."""
    request = checked.request
    _make_folders(request, checked.plan.items)
    with Manifest(request.manifest_path) as manifest:
        resumption = resume(
            checked.plan.items,
            manifest.state,
            retry_failed=request.retry_failed,
            resend_unknown=request.resend_unknown,
        )
        budget = Budget(
            request.max_credits,
            spent=manifest.state.spent + _maybe_billed(manifest.state),
            per_image=manifest.state.per_image,
        )
        for job in resumption.jobs:
            if job.task_id is not None:
                budget.created(job.item.key, job.model, job.item.images, job.estimate)
        sheet = SheetWriter(
            request.sheet_path, manifest.snapshot, title=_title(request), clock=clock
        )
        sheet.update()
        runner = BatchRunner(
            jobs=resumption.jobs,
            statuses=resumption.statuses,
            workflow=workflow,
            manifest=manifest,
            slots=_slots(request, client, reporter, {j.model for j in resumption.jobs}),
            budget=budget,
            reporter=reporter,
            settings=RunnerSettings(request.output_dir, request.timeout, schedule, request.force),
            on_result=sheet.update,
            clock=clock,
        )
        result = runner.run()
        sheet.update(final=True)
        if sheet.problem:
            reporter.warning(sheet.problem)
        states = manifest.snapshot()
        # Costs the manifest could not take down (a full disk) were spent all the same.
        unrecorded = [
            r.cost
            for r in result.ended.values()
            if r.cost and r.task_id is not None and r.task_id not in manifest.state.costs
        ]
        spent = manifest.state.spent + sum(unrecorded)
    return BatchSummary(
        output_dir=request.output_dir,
        manifest=request.manifest_path,
        contact_sheet=request.sheet_path if sheet.problem is None else None,
        items=item_summaries(
            checked.plan.items, result.statuses, states, request.output_dir, result.ended
        ),
        images=checked.plan.images,
        created=result.created,
        reattached=result.reattached,
        skipped=resumption.count(ItemStatus.DONE),
        spent=spent,
        stopped_by=result.stop,
        stop_text=result.stop_text,
        trouble=result.trouble,
        interrupted=result.interrupted,
        fatal=result.fatal,
    )


def _maybe_billed(state: ManifestState) -> float:
    """Creates that may have reached Runway (unknown) count against the budget at their
    model's last known cost: the budget never assumes they were free."""
    return sum(
        state.per_image.get(item.model or "", 0.0) * item.images
        for item in state.items.values()
        if item.unknown
    )


def _title(request: BatchRequest) -> str:
    source = "stdin" if request.source == "-" else Path(request.source).name
    return f"runway-img batch: {source}"


def _make_folders(request: BatchRequest, items: Sequence[BatchItem]) -> None:
    """The output folder, and the folders of items' plain output names (``sub/cat.png``)."""
    folders = {request.output_dir, request.manifest_path.parent}
    for item in items:
        if item.output is not None and not is_template(item.output):
            folders.add((request.output_dir / item.output).parent)
    for folder in sorted(folders):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"Cannot create the folder {folder}: {exc.strerror or exc}.") from None


def _slots(
    request: BatchRequest, client: RunwayClient, reporter: BatchReporter, models: set[str]
) -> Slots:
    """--concurrency N for every model and in all; else each model's
    ``maxConcurrentGenerations`` (null or unavailable: 2) under the global cap."""
    if request.concurrency is not None:
        n = request.concurrency
        return Slots(lambda model: n, n)
    if not models:
        return Slots(lambda model: DEFAULT_PER_MODEL, DEFAULT_TOTAL)
    try:
        org = client.get_organization()
    except (AuthenticationError, PermissionDeniedError):
        raise
    except RunwayImgError as exc:
        reporter.warning(
            f"Could not read the account's concurrency limits ({exc.message.rstrip('.')}); "
            f"running {DEFAULT_PER_MODEL} tasks per model at a time."
        )
        return Slots(lambda model: DEFAULT_PER_MODEL, DEFAULT_TOTAL)
    limits = {name: m.max_concurrent for name, m in org.models.items()}

    def per_model(model: str) -> int:
        return limits.get(model) or DEFAULT_PER_MODEL

    return Slots(per_model, DEFAULT_TOTAL)
