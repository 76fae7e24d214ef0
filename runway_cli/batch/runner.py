"""Running a batch: create each task once, follow many at a time, stop when told to.

One dispatcher thread takes jobs in order as slots free (``slots``), checks the budget, writes
the manifest's ``sent`` record, creates the task through the ``Workflow`` (the one place that
knows how to create without billing twice) and records the id at once; a follower thread per
task waits for it and saves its outputs (so downloads overlap with other tasks' waits).
Reattached tasks (an id but no files) skip the create.

Stop rules: the budget, a daily-limit 429, an "insufficient credits" 400 or a create Runway
could not take stop *new* creates; tasks in flight are still followed to the end. Ctrl-C
(``interrupt``) stops creating and waiting: the create in flight, if any, is answered and
recorded first, so the manifest stays consistent. A second Ctrl-C is not caught.

This module never prints: everything goes to the ``BatchReporter``. The clock and the sleep
between polls are injectable.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runway_cli.api.types import Task
from runway_cli.batch.budget import Budget
from runway_cli.batch.events import BatchReporter, Counts, ItemResult, ItemStatus, StopReason
from runway_cli.batch.items import BatchItem
from runway_cli.batch.manifest import Manifest, ManifestError, Record
from runway_cli.batch.slots import Slots
from runway_cli.batch.task_events import TaskEvents
from runway_cli.errors import (
    AmbiguousCreateError,
    AuthenticationError,
    BadRequestError,
    CredentialsError,
    InsufficientCreditsError,
    Interrupted,
    PermissionDeniedError,
    RateLimitError,
    RunwayImgError,
    SaveError,
    TaskError,
    UsageError,
    WaitTimeoutError,
)
from runway_cli.output_paths import OutputPlan
from runway_cli.polling import PollSchedule
from runway_cli.reporting import Reporter
from runway_cli.saving import SavedFile
from runway_cli.workflow import FollowPlan, Outcome, Workflow

WorkflowFactory = Callable[[Reporter, Callable[[float], None]], Workflow]
_FATAL = (AuthenticationError, PermissionDeniedError, CredentialsError)


@dataclass(frozen=True)
class Job:
    """An item to create, or (``task_id``) a task of an earlier run to reattach to."""

    item: BatchItem
    task_id: str | None = None
    estimate: float | None = None
    force: bool = False  # overwrite: the item's own files from an earlier, partial save

    @property
    def model(self) -> str:
        return self.item.model


@dataclass(frozen=True)
class Settings:
    output_dir: Path
    timeout: float
    schedule: PollSchedule
    force: bool = False


@dataclass
class RunResult:
    statuses: dict[str, ItemStatus]
    stop: StopReason | None = None
    stop_text: str | None = None
    fatal: RunwayImgError | None = None
    created: int = 0
    reattached: int = 0
    trouble: int = 0  # creates that may have reached Runway, waits that failed or timed out
    interrupted: bool = False


@dataclass
class _Progress:
    statuses: dict[str, ItemStatus]
    to_do: int
    finished: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class BatchRunner:
    def __init__(
        self,
        *,
        jobs: Sequence[Job],
        statuses: dict[str, ItemStatus],
        workflow: WorkflowFactory,
        manifest: Manifest,
        slots: Slots,
        budget: Budget,
        reporter: BatchReporter,
        settings: Settings,
        on_result: Callable[[], None] = lambda: None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jobs = list(jobs)
        self.manifest = manifest
        self.slots = slots
        self.budget = budget
        self.reporter = reporter
        self.settings = settings
        self.clock = clock
        self._workflow = workflow
        self._on_result = on_result
        self._sleep_between_polls = sleep
        self._result = RunResult(statuses=statuses)
        self._progress = _Progress(dict(statuses), to_do=len(jobs))
        self._no_creates = threading.Event()
        self._abort = threading.Event()
        self._followers: list[threading.Thread] = []
        self._lock = threading.Lock()

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run every job; return when all have ended or the run was stopped. Ctrl-C in the
        calling thread interrupts (the manifest stays consistent) and returns normally."""
        dispatcher = threading.Thread(target=self._dispatch, name="batch-dispatch", daemon=True)
        self._report_counts()
        dispatcher.start()
        try:
            while dispatcher.is_alive() or self._alive_followers():
                dispatcher.join(timeout=0.1)
                for thread in self._alive_followers():
                    thread.join(timeout=0.1)
        except KeyboardInterrupt:
            self.interrupt()
            dispatcher.join()
            for thread in list(self._followers):
                thread.join()
        self._result.statuses = dict(self._progress.statuses)
        return self._result

    def interrupt(self) -> None:
        """Stop creating and waiting (Ctrl-C)."""
        self._result.interrupted = True
        self._stop(StopReason.INTERRUPTED, "Interrupted: no more tasks are created or waited for.")
        self._abort.set()
        self.slots.close()

    def _alive_followers(self) -> list[threading.Thread]:
        with self._lock:
            return [t for t in self._followers if t.is_alive()]

    def _stop(self, reason: StopReason, text: str, fatal: RunwayImgError | None = None) -> None:
        with self._lock:
            if self._result.stop is None or reason is StopReason.INTERRUPTED:
                first = self._result.stop is None
                self._result.stop, self._result.stop_text = reason, text
                if fatal is not None:
                    self._result.fatal = fatal
            else:
                first = False
        self._no_creates.set()
        if first or reason is StopReason.INTERRUPTED:
            self.reporter.stopping(reason, text)

    # -- creating -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        waiting = list(self.jobs)
        while waiting:
            job = self.slots.take(waiting)
            if job is None:  # interrupted
                return
            if job.task_id is not None:
                self._start_follower(job, job.task_id, reattached=True)
            elif self._no_creates.is_set():
                self.slots.give_back(job.model, total=True)
            else:
                self._create(job)

    def _create(self, job: Job) -> None:
        item = job.item
        verdict = self.budget.check(item.model, item.images)
        if not verdict.allowed:
            self.slots.give_back(item.model, total=True)
            expected = "unknown" if verdict.expected is None else f"{verdict.expected:g}"
            self._stop(
                StopReason.BUDGET,
                f"The budget (--max-credits {self.budget.limit:g}) is reached: "
                f"{verdict.committed:g} credits spent or in flight, and line {item.line} "
                f"would cost {expected} more.",
            )
            return
        created = self._send_create(job)
        if created is None:
            self.slots.give_back(item.model, total=True)
            return
        task_id, estimate = created
        self.budget.created(task_id, item.model, item.images, estimate)
        with self._lock:
            self._result.created += 1
        self._start_follower(job, task_id, reattached=False)

    def _send_create(self, job: Job) -> tuple[str, float | None] | None:
        """Create the task (``sent`` record first, id recorded at once); None if not made."""
        item = job.item
        workflow = self._workflow(self.reporter, self._sleep)
        try:
            prepared = item.prepare()
            workflow.upload_references(prepared)
        except RunwayImgError as exc:
            self._refused(item, exc, sent=False)
            return None
        try:
            self.manifest.append(_sent(item))
        except ManifestError as exc:
            self._stop(StopReason.FATAL, exc.message, exc)
            return None
        try:
            created = workflow.create(prepared.body)
        except AmbiguousCreateError as exc:
            self._unknown(item, exc)
            return None
        except RunwayImgError as exc:
            self._refused(item, exc, sent=True)
            return None
        self._record(
            Record(
                "created", item.key, item.line, id=created.id, estimate=created.estimated_credits
            )
        )
        self._set_status(item, ItemStatus.RUNNING)
        return created.id, created.estimated_credits

    def _refused(self, item: BatchItem, exc: RunwayImgError, *, sent: bool) -> None:
        """Runway did not take the create (or it was never sent): nothing was made."""
        if sent:
            self._record(Record("refused", item.key, item.line, error=exc.message))
        if isinstance(exc, RateLimitError) and exc.daily_limit:
            self._stop(StopReason.DAILY_LIMIT, f"{exc.message} Tasks in flight are finished.")
        elif isinstance(exc, InsufficientCreditsError):
            self._stop(StopReason.CREDITS, f"{exc.message} Tasks in flight are finished.")
        elif isinstance(exc, _FATAL):
            self._stop(StopReason.FATAL, exc.message, exc)
        elif isinstance(exc, BadRequestError | UsageError):
            self._ended(item, ItemStatus.FAILED, error=exc.message)  # this item only
        else:
            self._stop(StopReason.SERVICE, f"Runway did not take a create: {exc.message}")
            with self._lock:
                self._result.trouble += 1

    def _unknown(self, item: BatchItem, exc: RunwayImgError) -> None:
        self._record(Record("unknown", item.key, item.line, error=exc.message))
        with self._lock:
            self._result.trouble += 1
        self._ended(item, ItemStatus.UNKNOWN, error=exc.message)

    # -- following ----------------------------------------------------------------------------

    def _start_follower(self, job: Job, task_id: str, *, reattached: bool) -> None:
        if reattached:
            self._set_status(job.item, ItemStatus.RUNNING)
            with self._lock:
                self._result.reattached += 1
        thread = threading.Thread(
            target=self._follow, args=(job, task_id), name=f"batch-{task_id[:8]}", daemon=True
        )
        with self._lock:
            self._followers.append(thread)
        thread.start()

    def _follow(self, job: Job, task_id: str) -> None:
        item = job.item
        ended = threading.Event()  # the task ended on Runway: its model's slot is free

        def give_back_model_slot(task: Task | None = None) -> None:
            if not ended.is_set():
                ended.set()
                self.slots.give_back(item.model, total=False)

        events = TaskEvents(self.reporter, on_end=give_back_model_slot)
        try:
            outcome = self._workflow(events, self._sleep).follow(task_id, self._plan(job))
            self._succeeded(item, task_id, outcome)
        except WaitTimeoutError as exc:
            self._trouble(item, task_id, exc)
        except TaskError as exc:
            self._task_ended(item, task_id, exc)
        except SaveError as exc:
            self._save_failed(item, task_id, exc)
        except Interrupted:
            self.budget.released(task_id)  # still running; the next run reattaches
        except RunwayImgError as exc:
            self._trouble(item, task_id, exc)
        finally:
            give_back_model_slot()
            self.slots.give_back_total()
            self._on_result()

    def _plan(self, job: Job) -> FollowPlan:
        item = job.item
        folder = self.settings.output_dir
        output = f"{folder}{os.sep}" if item.output is None else str(folder / item.output)
        plan = OutputPlan(
            output, self.settings.force or job.force, model=item.model, seed=item.seed
        )
        return FollowPlan(plan, self.settings.timeout, self.settings.schedule)

    def _sleep(self, seconds: float) -> None:
        """Between polls; raises KeyboardInterrupt once interrupted (the wait then ends as
        Ctrl-C ends it, keeping the task id)."""
        if self._abort.is_set():
            raise KeyboardInterrupt
        if self._sleep_between_polls is not None:
            self._sleep_between_polls(seconds)
        elif self._abort.wait(seconds):
            raise KeyboardInterrupt
        if self._abort.is_set():
            raise KeyboardInterrupt

    def _relative(self, saved: Sequence[object]) -> tuple[str, ...]:
        out = []
        for item in saved:
            if isinstance(item, SavedFile):
                out.append(os.path.relpath(item.path, self.settings.output_dir))
        return tuple(out)

    def _succeeded(self, item: BatchItem, task_id: str, outcome: Outcome) -> None:
        cost = outcome.task.credits if outcome.task.credits_final else None
        files = self._relative(outcome.saved)
        self.budget.finished(task_id, cost, images=item.images)
        self._record(
            Record(
                "finished",
                item.key,
                item.line,
                status="SUCCEEDED",
                id=task_id,
                cost=cost,
                files=files,
            )
        )
        self._ended(item, ItemStatus.DONE, task_id, files=files, cost=cost)

    def _task_ended(self, item: BatchItem, task_id: str, exc: TaskError) -> None:
        task = exc.task
        cost = task.credits if task is not None and task.credits_final else None
        status = "FAILED" if exc.kind == "task_failed" else "CANCELLED"
        code = task.failure.code if task is not None and task.failure else None
        self.budget.finished(task_id, cost, images=item.images)
        self._record(
            Record(
                "finished",
                item.key,
                item.line,
                status=status,
                id=task_id,
                cost=cost,
                error=exc.message,
                failure_code=code,
            )
        )
        self._ended(item, ItemStatus.FAILED, task_id, cost=cost, error=exc.message)

    def _save_failed(self, item: BatchItem, task_id: str, exc: SaveError) -> None:
        task = exc.task
        cost = task.credits if task is not None and task.credits_final else None
        files = self._relative(exc.saved)
        self.budget.finished(task_id, cost, images=item.images)
        self._record(
            Record(
                "finished",
                item.key,
                item.line,
                status="SUCCEEDED",
                id=task_id,
                cost=cost,
                files=files,
                error=exc.message,
            )
        )
        self._ended(
            item, ItemStatus.SAVE_FAILED, task_id, files=files, cost=cost, error=exc.message
        )

    def _trouble(self, item: BatchItem, task_id: str, exc: RunwayImgError) -> None:
        """Following failed; the task exists (still counted in flight): a rerun reattaches."""
        self._record(Record("trouble", item.key, item.line, id=task_id, error=exc.message))
        with self._lock:
            self._result.trouble += 1
        self._ended(item, ItemStatus.RUNNING, task_id, error=exc.message)

    # -- bookkeeping --------------------------------------------------------------------------

    def _record(self, rec: Record) -> None:
        """Append to the manifest; if it cannot be written, stop creating (the history still
        has every task id) and say which task is at risk."""
        try:
            self.manifest.append(rec)
        except ManifestError as exc:
            if rec.id is not None:
                self.reporter.warning(
                    f"{exc.message} Task {rec.id} (line {rec.line}) is not in it; "
                    "`runway-img history` has it.",
                    at_risk=True,
                )
            self._stop(StopReason.FATAL, exc.message, exc)

    def _set_status(self, item: BatchItem, status: ItemStatus) -> None:
        with self._progress.lock:
            self._progress.statuses[item.key] = status
        self._report_counts()

    def _ended(
        self,
        item: BatchItem,
        status: ItemStatus,
        task_id: str | None = None,
        *,
        files: tuple[str, ...] = (),
        cost: float | None = None,
        error: str | None = None,
    ) -> None:
        with self._progress.lock:
            self._progress.statuses[item.key] = status
            self._progress.finished += 1
        result = ItemResult(
            line=item.line,
            key=item.key,
            prompt=item.prompt,
            model=item.model,
            status=status,
            task_id=task_id,
            files=tuple(self.settings.output_dir / f for f in files),
            cost=cost,
            error=error,
        )
        self.reporter.item_finished(result)
        self._report_counts()

    def _report_counts(self) -> None:
        with self._progress.lock:
            tally = Counter(self._progress.statuses.values())
            finished, to_do = self._progress.finished, self._progress.to_do
        self.reporter.counts(
            Counts(
                total=sum(tally.values()),
                queued=tally[ItemStatus.QUEUED],
                running=tally[ItemStatus.RUNNING],
                done=tally[ItemStatus.DONE],
                failed=tally[ItemStatus.FAILED] + tally[ItemStatus.SAVE_FAILED],
                unknown=tally[ItemStatus.UNKNOWN],
                spent=self.budget.spent,
                in_flight=self.budget.in_flight,
                to_do=to_do,
                finished=finished,
            )
        )


def _sent(item: BatchItem) -> Record:
    return Record(
        "sent",
        item.key,
        item.line,
        model=item.model,
        prompt=item.prompt,
        ratio=item.ratio,
        seed=item.seed,
        images=item.images,
    )
