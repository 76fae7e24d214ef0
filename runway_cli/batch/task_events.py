"""One task's workflow events, passed on to the batch's reporter, noticing when it ends.

A batch gives each task it follows its own ``TaskEvents``: the moment Runway reports the task
ended (before its outputs are downloaded) ``on_end`` frees its model's slot, so the next task
of that model is created while this one's files are still being saved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from runway_cli.reporting import Reporter

if TYPE_CHECKING:
    from runway_cli.api.types import RetryEvent, Task
    from runway_cli.saving import SavedFile


class TaskEvents(Reporter):
    def __init__(self, forward: Reporter, *, on_end: Callable[[Task], None]) -> None:
        self.forward = forward
        self.on_end = on_end

    def note(self, text: str) -> None:
        self.forward.note(text)

    def warning(self, text: str, *, at_risk: bool = False) -> None:
        self.forward.warning(text, at_risk=at_risk)

    def uploading(self, label: str, done: int, total: int) -> None:
        self.forward.uploading(label, done, total)

    def retrying(self, event: RetryEvent) -> None:
        self.forward.retrying(event)

    def created(self, task_id: str) -> None:
        self.forward.created(task_id)

    def started(self, task_id: str) -> None:
        self.forward.started(task_id)

    def progress(self, task: Task) -> None:
        self.forward.progress(task)
        if task.status.is_terminal:
            self.on_end(task)

    def saved(self, task_id: str, path: SavedFile) -> None:
        self.forward.saved(task_id, path)
