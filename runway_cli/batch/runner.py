"""Running a batch: create each task once, follow many at a time, stop when told to.

One dispatcher thread takes jobs in order as slots free (``slots``) and reserves each one's
expected cost in the budget; a thread per job then writes the manifest's ``sent`` record,
creates the task through the ``Workflow`` (the one place that knows how to create without
billing twice), records the id at once, waits for the task and saves its outputs (so creates,
waits and downloads of different tasks overlap). Reattached tasks (an id but no files) skip
the create.

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
from runway_cli.batch import records
from runway_cli.batch.budget import Budget, Decision
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
    UsageError,
)
from runway_cli.output_paths import OutputPlan
from runway_cli.polling import PollSchedule
from runway_cli.reporting import Reporter
from runway_cli.workflow import FollowPlan, Workflow

WorkflowFactory = Callable[[Reporter, Callable[[float], None]], Workflow]
_FATAL = (AuthenticationError, PermissionDeniedError, CredentialsError)


@dataclass(frozen=True)
class Job:
    """An item to create, or (``task_id``) a task of an earlier run to reattach to."""

    item: BatchItem
    task_id: str | None = None
    estimate: float | None = None
    force: bool = False  # overwrite: the item's own files from an earlier, interrupted save

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
    crash: Exception | None = None  # a bug in a worker thread, raised again in the caller
    # How each item ended in this run, as the runner saw it (the manifest may have missed it)
    ended: dict[str, ItemResult] = field(default_factory=dict)


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
        # Downloads at once: as many as tasks in flight (the HTTP pool is sized for both).
        self._downloads = threading.BoundedSemaphore(slots.total)
        self._lock = threading.Lock()

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> RunResult:
        """Run every job; return when all have ended or the run was stopped. Ctrl-C in the
        calling thread interrupts (the manifest stays consistent) and returns normally."""
        dispatcher = threading.Thread(
            target=self._guarded(self._dispatch), name="batch-dispatch", daemon=True
        )
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
        if self._result.crash is not None:  # a bug: never a quiet exit 0 with work undone
            raise self._result.crash
        return self._result

    def _guarded(self, work: Callable[..., None], *args: object) -> Callable[[], None]:
        """``work`` for a thread of its own: an unexpected error stops the whole run (the
        manifest keeps every task id, so a rerun reattaches) instead of ending one thread."""

        def run() -> None:
            try:
                work(*args)
            except Exception as exc:
                with self._lock:
                    if self._result.crash is None:
                        self._result.crash = exc
                self._stop(StopReason.FATAL, "An internal error stopped the run.")
                self._abort.set()
                self.slots.close()

        return run

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
        """Take jobs in order as slots free; each runs on its own thread (creates too, so a
        slow create never holds up the others)."""
        waiting = list(self.jobs)
        while waiting:
            job = self.slots.take(waiting)
            if job is None:  # interrupted
                return
            if job.task_id is not None:
                self._start(job)
            elif self._no_creates.is_set():
                self.slots.give_back(job.model)
            else:
                self._reserve_and_start(job, waiting)

    def _reserve_and_start(self, job: Job, waiting: list[Job]) -> None:
        item = job.item
        verdict = self.budget.reserve(item.key, item.model, item.images)
        if verdict.decision is Decision.GO:
            self._start(job)
            return
        self.slots.give_back(item.model)
        if verdict.decision is Decision.WAIT:  # the model's first cost is on its way
            waiting.insert(0, job)
            self.budget.wait_for_change(timeout=0.5)
            return
        expected = "unknown" if verdict.expected is None else f"{verdict.expected:g}"
        self._stop(
            StopReason.BUDGET,
            f"The budget (--max-credits {self.budget.limit:g}) is reached: "
            f"{verdict.committed:g} credits spent or in flight, and line {item.line} "
            f"would cost {expected} more.",
        )

    def _start(self, job: Job) -> None:
        name = f"batch-line-{job.item.line}"
        thread = threading.Thread(target=self._guarded(self._run_job, job), name=name, daemon=True)
        with self._lock:
            self._followers.append(thread)
        thread.start()

    def _run_job(self, job: Job) -> None:
        """Create the task unless it exists, then follow it to its saved files."""
        item = job.item
        task_id = job.task_id
        if task_id is not None:
            self._set_status(item, ItemStatus.RUNNING)
            with self._lock:
                self._result.reattached += 1
        else:
            created = self._send_create(job)
            if created is None:
                self.budget.unreserve(item.key)
                self.slots.give_back(item.model)
                self._on_result()
                return
            task_id, estimate = created
            self.budget.created(item.key, item.model, item.images, estimate)
            with self._lock:
                self._result.created += 1
        self._follow(job, task_id)

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
        if self._abort.is_set():  # interrupted meanwhile: not sent
            return None
        try:
            self.manifest.append(records.sent(item))
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

    def _follow(self, job: Job, task_id: str) -> None:
        item = job.item
        ended = threading.Event()  # the task ended on Runway: its slots are free
        downloading = threading.Event()

        def on_end(task: Task | None = None) -> None:
            if not ended.is_set():
                ended.set()
                self.slots.give_back(item.model)
                if task is not None:  # its outputs are next: wait for a download's turn
                    self._downloads.acquire()
                    downloading.set()

        events = TaskEvents(self.reporter, on_end=on_end)
        folder = self.settings.output_dir
        ending: records.Ending | None = None
        try:
            outcome = self._workflow(events, self._sleep).follow(task_id, self._plan(job))
            ending = records.succeeded(item, task_id, outcome, folder)
        except Interrupted:
            self.budget.released(item.key)  # still running; the next run reattaches
        except RunwayImgError as exc:
            ending = records.failed(item, task_id, exc, folder)
        finally:
            on_end()
            if downloading.is_set():
                self._downloads.release()
        if ending is not None:
            self._finish(item, task_id, ending)
        self._on_result()

    def _finish(self, item: BatchItem, task_id: str, ending: records.Ending) -> None:
        if ending.task_ended:
            self.budget.finished(item.key, ending.cost, images=item.images)
        else:  # a wait failed or timed out: still in flight (and counted), rerun reattaches
            with self._lock:
                self._result.trouble += 1
        self._record(ending.record)
        files, cost, error = ending.files, ending.cost, ending.error
        self._ended(item, ending.status, task_id, files=files, cost=cost, error=error)

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
        with self._lock:
            self._result.ended[item.key] = result
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
