"""How to pick up a task where a run left it: the ``runway-img download ...`` command.

Built by the command layer from the typed facts on an error (task id, stage, saved files),
never by the workflow, and added to the error as a note so the error itself is not edited.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from runway_cli.errors import (
    FollowError,
    Interrupted,
    RunwayImgError,
    SaveError,
    Stage,
    WaitTimeoutError,
)
from runway_cli.settings import Settings


@dataclass(frozen=True)
class Resume:
    """The parts of this run a resume command must repeat."""

    output: str | None
    force: bool
    flags: tuple[str, ...] = ()

    @classmethod
    def for_run(cls, settings: Settings, output: str | None, force: bool) -> Resume:
        if settings.sandbox:
            flags: tuple[str, ...] = ("--sandbox",)
        elif settings.base_url_flag:
            flags = ("--base-url", settings.base_url_flag)
        else:
            flags = ()
        return cls(output, force, flags)

    def command(self, task_id: str, *, force: bool = False) -> str:
        parts = ["runway-img", "download", task_id]
        if self.output:
            parts += ["-o", self.output]
        if force or self.force:
            parts.append("--force")
        return shlex.join(parts + list(self.flags))

    def note_for(self, exc: RunwayImgError) -> str | None:
        """What to run next, for an error that leaves a task behind; None otherwise."""
        task_id = exc.task_id
        if task_id is None:
            return None
        if isinstance(exc, Interrupted):
            if exc.stage in (Stage.WAITING, Stage.SAVING):
                return f"Resume with: {self.command(task_id)}"
            return None
        if isinstance(exc, WaitTimeoutError):
            return None if exc.cancelled else f"Resume with: {self.command(task_id)}"
        if isinstance(exc, FollowError):
            return f"Task {task_id} was created; resume with: {self.command(task_id)}"
        if isinstance(exc, SaveError):
            return self._after_save_error(exc, task_id)
        return None

    def _after_save_error(self, exc: SaveError, task_id: str) -> str:
        if self.output == "-" and (exc.total or 0) > 1:
            # -o - takes one image: the same command would be refused, so name one that works.
            folder = Resume("FOLDER/", self.force, self.flags).command(task_id)
            return f"Task {task_id} succeeded with {exc.total} images; save them with: {folder}"
        if exc.saved:
            total = exc.total if exc.total is not None else len(exc.saved)
            return (
                f"Task {task_id} succeeded; saved {len(exc.saved)} of {total} files. "
                f"Retry with: {self.command(task_id, force=True)}"
            )
        if exc.existing is not None:
            return (
                f"Task {task_id} succeeded. To overwrite, run: {self.command(task_id, force=True)}"
            )
        retry = self.command(task_id)
        return f"Task {task_id} succeeded; nothing was overwritten. Retry with: {retry}"
