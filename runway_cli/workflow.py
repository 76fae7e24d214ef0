"""Following a task from creation to saved files: upload, create once, record, wait, save.

This is the flow behind ``generate`` and ``download``. It records every task in the history
before waiting (the task id is never lost), reports through a ``Reporter`` (it never prints),
and raises typed errors that carry the facts the command layer needs to say how to resume:
the task id, the task, the files that were saved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from runway_cli.api.client import RunwayClient
from runway_cli.api.types import CreatedTask, Task, TaskStatus
from runway_cli.errors import (
    AmbiguousCreateError,
    FollowError,
    Interrupted,
    InvalidResponseError,
    NetworkError,
    NotFoundError,
    RunwayImgError,
    SaveError,
    Stage,
    TaskError,
    TaskGoneError,
    UsageError,
    WaitTimeoutError,
)
from runway_cli.history import History
from runway_cli.input_checks import is_loopback
from runway_cli.output_paths import OutputPlan, check_destination, exists, is_dir, url_ext
from runway_cli.polling import PollSchedule, wait_for_task
from runway_cli.reporting import Reporter
from runway_cli.request_body import Prepared, shorten_data_uris
from runway_cli.saving import SavedFile, save_output

_KEPT_FIELDS = ("model", "promptText", "ratio")
_AMBIGUOUS_HINT = "Check `runway-img history` and the Runway dashboard before generating again."


@dataclass(frozen=True)
class FollowPlan:
    """How to follow a task: where to save its outputs and how long to wait."""

    output: OutputPlan
    timeout: float
    schedule: PollSchedule
    cancel_on_timeout: bool = False
    to_stdout: bool = False  # -o -: one image, for stdout (the history records "-")


@dataclass(frozen=True)
class Cancelled:
    """What ``cancel`` did to one task. ``action``: cancelled (it was still in progress),
    deleted (it had finished), gone (404: already cancelled or deleted), kept (not confirmed).
    ``status``: the state the server reported before, which decides any refund."""

    id: str
    action: str
    status: str | None


@dataclass(frozen=True)
class Outcome:
    task: Task
    saved: tuple[SavedFile, ...]


class Workflow:
    """One client, one history, one reporter: the steps every command that makes images uses."""

    def __init__(
        self,
        client: RunwayClient,
        history: History,
        reporter: Reporter,
        *,
        sandbox: bool,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.history = history
        self.reporter = reporter
        self.sandbox = sandbox
        # Between polls. A batch passes one that raises KeyboardInterrupt when told to stop,
        # so every wait in flight ends as Ctrl-C would end it (Interrupted, task id kept).
        self.sleep = sleep

    def _record(self, event: str, **fields: Any) -> None:
        problem = self.history.append(event, **fields)
        if problem is not None:
            # Named here: with -q this warning is the only place the id is shown.
            task_id = fields.get("id")
            keep = f"keep the task id: {task_id}" if task_id else "keep the task id shown here"
            self.reporter.warning(
                f"Could not write the task history ({self.history.path}: {problem}); {keep}.",
                at_risk=True,
            )

    # -- creating ---------------------------------------------------------------------------

    def upload_references(self, prepared: Prepared) -> None:
        """Upload local images too large to inline; put their runway:// URIs in the body."""
        for path, image in prepared.uploads:
            size = len(image.data) / 2**20
            self.reporter.note(f"Uploading {image.path.name} ({size:.1f} MB)...")
            # The upload service wants an image extension; name it by the bytes, not the name.
            filename = f"{image.path.stem or 'image'}.{image.kind}"
            upload = self.client.create_upload(filename)
            uri = self.client.upload_file(
                upload,
                filename,
                image.data,
                image.mime,
                on_progress=partial(self.reporter.uploading, f"Uploading {image.path.name}"),
            )
            prepared.set_upload(path, uri)

    def create(self, body: dict[str, Any]) -> CreatedTask:
        """Create the task once; record it (or the doubt about it) in the history."""
        record = {
            "model": body.get("model"),
            "prompt": body.get("promptText"),
            "ratio": body.get("ratio"),
            # data: URIs are shortened: the history must not grow by megabytes per task
            "params": shorten_data_uris({k: v for k, v in body.items() if k not in _KEPT_FIELDS}),
            "sandbox": self.sandbox,
        }
        try:
            created = self.client.create_text_to_image(body)
        except AmbiguousCreateError as exc:
            self._record("ambiguous", id=None, note=exc.message, **record)
            raise
        except KeyboardInterrupt:
            self._record("ambiguous", id=None, note="interrupted while creating", **record)
            raise Interrupted(
                "Interrupted while creating the task; it may have been created.",
                hint=_AMBIGUOUS_HINT,
                stage=Stage.CREATING,
            ) from None
        self._record("created", id=created.id, **record)
        self.reporter.created(created.id)
        return created

    def generate(
        self, prepared: Prepared, plan: FollowPlan | None
    ) -> tuple[CreatedTask, Outcome | None]:
        """Upload, create, and (unless ``plan`` is None: --no-wait) follow to saved files."""
        self.upload_references(prepared)
        created = self.create(prepared.body)
        if plan is None:
            return created, None
        return created, self.follow(created.id, plan)

    # -- cancelling -------------------------------------------------------------------------

    def cancel(self, task_id: str, confirm_delete: Callable[[Task], bool]) -> Cancelled:
        """Cancel a task in progress, or delete a finished one if ``confirm_delete`` agrees."""
        try:
            task = self.client.get_task(task_id)
        except NotFoundError:
            return Cancelled(task_id, "gone", None)
        if task.status.is_terminal and not confirm_delete(task):
            return Cancelled(task_id, "kept", task.status_text)
        try:
            self.client.delete_task(task_id)
        except NotFoundError:
            return Cancelled(task_id, "gone", task.status_text)
        action = "deleted" if task.status.is_terminal else "cancelled"
        self._record(action, id=task_id, note=f"{action} while {task.status_text}")
        return Cancelled(task_id, action, task.status_text)

    # -- following --------------------------------------------------------------------------

    def download(self, task_id: str, plan: FollowPlan) -> Outcome:
        """Fetch a task (for fresh URLs), check where its outputs go, then follow it."""
        task = self.client.get_task(task_id)
        if plan.to_stdout and len(task.output_urls) > 1:
            raise UsageError(
                f"-o - writes one image to stdout; task {task_id} has {len(task.output_urls)}.",
                hint="Save them to a folder instead: -o FOLDER/",
            )
        if task.status is TaskStatus.SUCCEEDED and task.output_urls:
            # Known names before any download: a clash is bad input (exit 2), not a failure.
            check_destinations(plan.output, task)
        return self.follow(task_id, plan, current=task)

    def follow(self, task_id: str, plan: FollowPlan, current: Task | None = None) -> Outcome:
        """Wait for the task and save its outputs; record how it ended."""
        try:
            outcome = self._wait_and_save(task_id, plan, current)
        except TaskError as exc:
            if isinstance(exc, TaskGoneError) or (
                exc.task is not None and exc.task.status.is_terminal
            ):
                self._finished(task_id, exc.task, status=_ended_status(exc))
            raise
        except SaveError as exc:
            self._finished(
                task_id,
                exc.task,
                saved=exc.saved,
                note=f"not all saved: {exc.message}",
            )
            raise
        self._finished(task_id, outcome.task, saved=outcome.saved, to_stdout=plan.to_stdout)
        return outcome

    def _finished(
        self,
        task_id: str,
        task: Task | None,
        *,
        saved: tuple[Any, ...] = (),
        note: str | None = None,
        status: str | None = None,
        to_stdout: bool = False,
    ) -> None:
        files = [str(item.path.resolve()) for item in saved if isinstance(item, SavedFile)]
        self._record(
            "finished",
            id=task_id,
            status=status or (task.status_text if task is not None else "SUCCEEDED"),
            cost=task.credits if task is not None and task.credits_final else None,
            files=["-"] if to_stdout and files else files,
            note=note,
        )

    def _cancel_after_timeout(self, task_id: str, cause: RunwayImgError) -> NoReturn:
        """--cancel-on-timeout: cancel the task the wait gave up on, and say what happened."""
        last = cause.task if isinstance(cause, TaskError) else None
        try:
            self.client.delete_task(task_id)
        except NotFoundError:
            pass  # already gone: nothing left to cancel
        except RunwayImgError as exc:
            failed = NetworkError(
                f"{cause.message.rstrip('.')}; could not cancel task {task_id} "
                f"({exc.message.rstrip('.')}), so it was not cancelled.",
                hint="Cancel it later with: runway-img cancel " + task_id,
            )
            raise FollowError(failed, task_id=task_id) from exc
        self._record("cancelled", id=task_id, note="cancelled after --timeout")
        raise WaitTimeoutError(
            f"{cause.message.rstrip('.')}; cancelled it on the server (--cancel-on-timeout).",
            task_id=task_id,
            task=last,
            cancelled=True,
        ) from cause

    def _trouble(self, exc: RunwayImgError) -> None:
        self.reporter.warning(
            f"Runway is not answering ({exc.message.rstrip('.')}); still trying until the timeout."
        )

    def _wait_and_save(self, task_id: str, plan: FollowPlan, current: Task | None) -> Outcome:
        self.reporter.started(task_id)
        try:
            task = wait_for_task(
                partial(self.client.get_task, once=True),  # the wait itself retries
                task_id,
                timeout=plan.timeout,
                schedule=plan.schedule,
                on_update=self.reporter.progress,
                on_trouble=self._trouble,
                sleep=self.sleep,
                current=current,
            )
        except KeyboardInterrupt:
            raise Interrupted(
                f"Stopped waiting; task {task_id} keeps running on the server.",
                stage=Stage.WAITING,
                task_id=task_id,
            ) from None
        except WaitTimeoutError as exc:
            if plan.cancel_on_timeout:
                self._cancel_after_timeout(task_id, exc)
            raise
        except TaskError:
            raise
        except RunwayImgError as exc:
            if plan.cancel_on_timeout and isinstance(exc, NetworkError):
                self._cancel_after_timeout(task_id, exc)
            # Polling failed, but the task exists and is paid for: never lose its id.
            raise FollowError(exc, task_id=task_id) from exc
        if not task.output_urls:
            cause = InvalidResponseError(f"Task {task_id} succeeded but returned no output URLs.")
            raise FollowError(cause, task_id=task_id) from None
        unsafe = next((u for u in task.output_urls if not is_safe_output_url(u)), None)
        if unsafe is not None:
            cause = InvalidResponseError(
                f"Task {task_id} succeeded but an output URL is not https:// "
                f"({unsafe.split('?')[0][:80]}); not downloading from it."
            )
            raise FollowError(cause, task_id=task_id) from None
        saved: list[SavedFile] = []
        try:
            if plan.to_stdout and len(task.output_urls) > 1:
                raise SaveError(f"-o - writes one image; task {task_id} made several.")
            self._save_all(task, plan.output, saved)
        except SaveError as exc:
            raise SaveError(
                exc.message,
                exc.hint,
                task_id=task_id,
                task=task,
                saved=saved,
                existing=exc.existing,
                total=len(task.output_urls),
            ) from exc
        except KeyboardInterrupt:
            raise Interrupted(
                f"Download interrupted; task {task_id} succeeded and its image is still on "
                "the server.",
                stage=Stage.SAVING,
                task_id=task_id,
            ) from None
        return Outcome(task, tuple(saved))

    def _save_all(self, task: Task, plan: OutputPlan, saved: list[SavedFile]) -> None:
        """Save each output, appending to ``saved`` as files land (so a failure knows what did)."""
        urls = task.output_urls
        count = len(urls)
        if plan.output is not None:
            _check_before_saving(plan, task)
        warned = False  # one warning per run, not one per output
        for index, url in enumerate(urls):

            def choose(kind: str, index: int = index) -> Path:
                path = plan.paths(task.id, count, kind)[index]
                if exists(path) and not plan.force:
                    raise SaveError(f"{path} already exists.", existing=path)
                return path

            def refresh(index: int = index) -> str:
                try:
                    fresh = self.client.get_task(task.id).output_urls
                except RunwayImgError as exc:
                    raise SaveError(f"Could not refresh the output URLs: {exc.message}") from exc
                if index >= len(fresh):
                    raise SaveError(f"Task {task.id} no longer lists output {index + 1}.")
                return fresh[index]

            item = save_output(
                self.client,
                url,
                choose,
                force=plan.force,
                make_folders=plan.make_folders,
                refresh_url=refresh,
            )
            mismatch = plan.extension_mismatch(item.kind, item.path)
            if mismatch and not warned:
                self.reporter.warning(mismatch)
                warned = True
            saved.append(item)
            self.reporter.saved(task.id, item)


def is_safe_output_url(url: str) -> bool:
    """https://, or http:// on this machine (a sandbox); anything else is the server's fault."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return parts.scheme == "http" and is_loopback(parts.hostname or "")


def check_destinations(plan: OutputPlan, task: Task) -> None:
    """UsageError unless every output of a finished task can be written where the plan
    puts it."""
    urls = task.output_urls
    for index, url in enumerate(urls):
        path = plan.paths(task.id, len(urls), url_ext(url))[index]
        check_destination(path, force=plan.force, make_folders=plan.make_folders)


def _check_before_saving(plan: OutputPlan, task: Task) -> None:
    """Like ``check_destinations``, as a SaveError (the task is paid for; saving is what
    failed), naming the file that exists when that is why."""
    urls = task.output_urls
    for index, url in enumerate(urls):
        path = plan.paths(task.id, len(urls), url_ext(url))[index]
        try:
            check_destination(path, force=plan.force, make_folders=plan.make_folders)
        except UsageError as exc:
            if _is_existing_file(path) and not plan.force:
                raise SaveError(exc.message, existing=path) from exc  # the CLI says --force
            raise SaveError(exc.message, exc.hint) from exc


def _is_existing_file(path: Path) -> bool:
    try:
        return exists(path) and not is_dir(path)
    except OSError:  # a name too long, say: whatever it is, it is not a file in the way
        return False


def _ended_status(exc: TaskError) -> str:
    if isinstance(exc, TaskGoneError):
        return "CANCELLED"
    return exc.task.status_text if exc.task is not None else TaskStatus.OTHER.value
