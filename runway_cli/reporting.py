"""How the workflow tells the user what is happening, without printing anything itself.

The workflow calls a ``Reporter``; the command layer chooses which one (a Rich display on a
terminal, plain lines elsewhere, a many-task display for batches, or this silent base class in
tests). Every event names its task, so one reporter can follow many tasks at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runway_cli.api.types import RetryEvent, Task
    from runway_cli.saving import SavedFile


class Reporter:
    """Receives workflow events. Every method does nothing here; subclasses pick theirs."""

    def note(self, text: str) -> None:
        """Something worth saying (not a problem)."""

    def warning(self, text: str, *, at_risk: bool = False) -> None:
        """A problem that did not stop the run. ``at_risk``: a task id or a paid image is at
        risk (shown even in quiet mode)."""

    def uploading(self, label: str, done: int, total: int) -> None:
        """Bytes of a reference image sent so far."""

    def retrying(self, event: RetryEvent) -> None:
        """A request failed and will be sent again after ``event.wait`` seconds."""

    def created(self, task_id: str) -> None:
        """A task was created (and recorded in the history)."""

    def started(self, task_id: str) -> None:
        """The task exists (just created, or reattached); following it begins."""

    def progress(self, task: Task) -> None:
        """A fresh view of a task being followed."""

    def saved(self, task_id: str, path: SavedFile) -> None:
        """One output file is in place."""
