"""Following a task from creation to saved files: create, record, wait, download.

This is the flow behind ``generate`` and ``download``, kept out of the CLI layer so commands
stay thin. It records every task in the history, turns failures into typed errors whose hint
says how to resume (the task id is never lost), and reports progress through ``render``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runway_cli import history, render
from runway_cli.connect import Connection
from runway_cli.downloads import (
    OutputPlan,
    SavedFile,
    check_destination,
    output_urls,
    save_output,
    url_ext,
)
from runway_cli.errors import (
    AmbiguousCreateError,
    Interrupted,
    InvalidResponseError,
    RunwayImgError,
    SaveError,
    TaskError,
    UsageError,
)
from runway_cli.request import Prepared, shorten_data_uris
from runway_cli.waiting import PollSchedule, wait_for_task

_KEPT_FIELDS = ("model", "promptText", "ratio")


@dataclass
class Job:
    """What the user asked for, beyond the request body: where to save, how long to wait."""

    conn: Connection
    plan: OutputPlan
    timeout: float
    schedule: PollSchedule
    resume_flags: list[str] = field(default_factory=list)

    def resume_command(self, task_id: str, *, force: bool = False) -> str:
        parts = ["runway-img", "download", task_id]
        if self.plan.output:
            parts += ["-o", self.plan.output]
        if force or self.plan.force:
            parts.append("--force")
        return shlex.join(parts + self.resume_flags)


@dataclass
class Outcome:
    task: dict[str, Any]
    saved: list[SavedFile]


def _record(event: str, **fields: Any) -> None:
    if not history.append(event, **fields):
        render.warn(
            f"Could not write the task history ({history.history_path()}); "
            "keep the task id shown here."
        )


def upload_references(conn: Connection, prepared: Prepared) -> None:
    """Upload local images too large to inline; put their runway:// URIs in the body."""
    for path, image in prepared.uploads:
        size = len(image.data) / 2**20
        render.note(f"Uploading {image.path.name} ({size:.1f} MB)...")
        # The upload service wants an image extension; name it by the bytes, not the file name.
        filename = f"{image.path.stem or 'image'}.{'jpg' if image.kind == 'jpeg' else image.kind}"
        upload = conn.client.create_upload(filename)
        with render.TransferDisplay(f"Uploading {image.path.name}") as display:
            uri = conn.client.upload_file(
                upload, filename, image.data, image.mime, on_progress=display.update
            )
        prepared.set_upload(path, uri)


def create(conn: Connection, body: dict[str, Any]) -> dict[str, Any]:
    """Create the task once; record it (or the doubt about it) in the history."""
    record = {
        "model": body.get("model"),
        "prompt": body.get("promptText"),
        "ratio": body.get("ratio"),
        # data: URIs are shortened: the history must not grow by megabytes per task
        "params": shorten_data_uris({k: v for k, v in body.items() if k not in _KEPT_FIELDS}),
    }
    try:
        created = conn.client.create_text_to_image(body)
    except AmbiguousCreateError as exc:
        _record("ambiguous", id=None, note=exc.message, **record)
        raise
    except KeyboardInterrupt:
        _record("ambiguous", id=None, note="interrupted while creating", **record)
        raise Interrupted(
            "Interrupted while creating the task; it may have been created.",
            hint="Check `runway-img history` and the Runway dashboard before generating again.",
        ) from None
    _record("created", id=created["id"], **record)
    return created


def follow(job: Job, task_id: str, current: dict[str, Any] | None = None) -> Outcome:
    """Wait for the task and save its outputs. Errors carry the task and the resume command."""
    try:
        outcome = _wait_and_save(job, task_id, current)
    except TaskError as exc:
        if exc.task.get("status") in ("FAILED", "CANCELLED"):
            _finished(task_id, exc.task)
        raise
    except SaveError as exc:
        _finished(
            task_id,
            exc.task or {"status": "SUCCEEDED"},
            exc.saved,
            note=f"not all saved: {exc.message}",
        )
        raise
    _finished(task_id, outcome.task, outcome.saved)
    return outcome


def _finished(
    task_id: str,
    task: dict[str, Any],
    saved: list[SavedFile] | None = None,
    note: str | None = None,
) -> None:
    cost = task.get("cost")
    credits = cost.get("credits") if isinstance(cost, dict) else None
    _record(
        "finished",
        id=task_id,
        status=task.get("status"),
        cost=credits,
        files=[str(item.path.resolve()) for item in saved or []],
        note=note,
    )


def _add_hint(exc: RunwayImgError, hint: str) -> None:
    """Keep a specific hint (a 401's, the daily limit's) and add how to resume."""
    exc.hint = f"{exc.hint} {hint}" if exc.hint else hint


def _wait_and_save(job: Job, task_id: str, current: dict[str, Any] | None) -> Outcome:
    resume = job.resume_command(task_id)
    try:
        with render.WaitDisplay(task_id) as display:
            task = wait_for_task(
                job.conn.client.get_task,
                task_id,
                timeout=job.timeout,
                schedule=job.schedule,
                on_update=display.update,
                current=current,
            )
    except KeyboardInterrupt:
        raise Interrupted(
            f"Stopped waiting; task {task_id} keeps running on the server.",
            hint=f"Resume with: {resume}",
        ) from None
    except TaskError as exc:
        if exc.task.get("status") not in ("FAILED", "CANCELLED"):
            _add_hint(exc, f"Resume with: {resume}")
        raise
    except RunwayImgError as exc:
        # Polling failed, but the task exists and is paid for: never lose its id.
        _add_hint(exc, f"Task {task_id} was created; resume with: {resume}")
        raise
    urls = output_urls(task)
    if not urls:
        raise InvalidResponseError(
            f"Task {task_id} succeeded but returned no output URLs.",
            hint=f"Try again later with: {resume}",
        )
    saved: list[SavedFile] = []
    try:
        _save_all(job, task_id, urls, saved)
    except SaveError as exc:
        exc.task, exc.saved = task, saved
        if saved:
            retry = job.resume_command(task_id, force=True)
            exc.hint = (
                f"Task {task_id} succeeded; saved {len(saved)} of {len(urls)} files. "
                f"Retry with: {retry}"
            )
        elif exc.exists:
            retry = job.resume_command(task_id, force=True)
            exc.hint = f"Task {task_id} succeeded. To overwrite, run: {retry}"
        else:
            exc.hint = f"Task {task_id} succeeded; nothing was overwritten. Retry with: {resume}"
        raise
    except KeyboardInterrupt:
        raise Interrupted(
            f"Download interrupted; task {task_id} succeeded and its image is still on the server.",
            hint=f"Resume with: {resume}",
        ) from None
    return Outcome(task, saved)


def check_destinations(plan: OutputPlan, task_id: str, urls: list[str]) -> None:
    """UsageError unless the destination of every output can be written."""
    for index, url in enumerate(urls):
        path = plan.paths(task_id, len(urls), url_ext(url))[index]
        check_destination(path, force=plan.force, make_folders=plan.make_folders)


def _save_all(job: Job, task_id: str, urls: list[str], saved: list[SavedFile]) -> None:
    """Save each output, appending to ``saved`` as files land (so a failure knows what did)."""
    plan, client = job.plan, job.conn.client
    count = len(urls)
    if plan.output is not None:
        try:
            check_destinations(plan, task_id, urls)
        except UsageError as exc:
            error = SaveError(exc.message, task_id=task_id)
            error.exists = "already exists" in exc.message
            raise error from None
    warned = False  # one warning per run, not one per output
    for index, url in enumerate(urls):

        def choose(kind: str, index: int = index) -> Path:
            path = plan.paths(task_id, count, kind)[index]
            if path.exists() and not plan.force:
                error = SaveError(f"{path} already exists.", task_id=task_id)
                error.exists = True
                raise error
            return path

        def refresh(index: int = index) -> str:
            try:
                fresh = output_urls(client.get_task(task_id))
            except RunwayImgError as exc:
                raise SaveError(f"Could not refresh the output URLs: {exc.message}") from None
            if index >= len(fresh):
                raise SaveError(f"Task {task_id} no longer lists output {index + 1}.")
            return fresh[index]

        item = save_output(
            client,
            url,
            choose,
            force=plan.force,
            make_folders=plan.make_folders,
            refresh_url=refresh,
        )
        mismatch = plan.extension_mismatch(item.kind, item.path)
        if mismatch and not warned:
            render.warn(mismatch)
            warned = True
        saved.append(item)


def result_json(
    summary: dict[str, Any], task: dict[str, Any], saved: list[SavedFile]
) -> dict[str, Any]:
    """The one JSON object ``--json`` prints (see the README for the schema)."""
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
