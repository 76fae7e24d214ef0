"""Typed errors raised below the CLI layer.

Every expected failure is one of these. Each carries a one-line ``message`` (what went wrong),
an optional ``hint`` (what to do next) and, where it matters, typed facts (the task id, the
task, the files that were saved) set where the error is raised. Errors are never edited on
the way up: a layer that knows more raises a new error ``from`` the old one or adds a note
(``add_note``). The CLI maps classes to exit statuses in one place (``exit_codes``) and builds
resume commands from the facts; nothing below the CLI prints or exits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runway_cli.api.types import Task


class RunwayImgError(Exception):
    """Base class for every expected failure."""

    kind = "error"  # a stable name for scripts (--json ``error.kind``)

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self._message = message
        self._hint = hint

    # Read-only: a layer that knows more adds a note or raises a new error ``from`` this one.
    @property
    def message(self) -> str:
        return self._message

    @property
    def hint(self) -> str | None:
        return self._hint

    def __str__(self) -> str:
        return self._message

    @property
    def task_id(self) -> str | None:
        """The task this failure concerns, when one exists."""
        return None


class UsageError(RunwayImgError):
    """Bad input from the user, caught before any request is sent."""

    kind = "usage"


class CredentialsError(RunwayImgError):
    """No API key could be found, or the stored one is unusable."""

    kind = "auth"


@dataclass(frozen=True)
class Issue:
    """One entry of a 400 body's ``issues`` list."""

    path: tuple[str, ...]
    message: str
    code: str | None = None

    def __str__(self) -> str:
        where = ".".join(self.path) or "(body)"
        return f"{where}: {self.message}"


class APIError(RunwayImgError):
    """The API answered with an HTTP error status."""

    kind = "api"

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error: str | None = None,
        issues: Sequence[Issue] = (),
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status_code = status_code
        self.error = error
        self.issues = tuple(issues)
        self.retry_after = retry_after  # seconds the server asked us to wait, if it said


class BadRequestError(APIError):
    """400 / 422: the server refused the request as invalid."""

    kind = "bad_request"


class InsufficientCreditsError(BadRequestError):
    """400 "You do not have enough credits to run this task."."""

    kind = "insufficient_credits"


class AuthenticationError(APIError):
    """401: the key is missing, wrong, disabled or suspended."""

    kind = "auth"


class PermissionDeniedError(APIError):
    """403: the key is valid but may not do this."""

    kind = "auth"


class NotFoundError(APIError):
    """404: no such task (or it was deleted), or no such path at this base URL."""

    kind = "not_found"


class RateLimitError(APIError):
    """429: too many requests, or the daily task limit (``daily_limit``)."""

    kind = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        error: str | None = None,
        hint: str | None = None,
        daily_limit: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, status_code=status_code, error=error, hint=hint, retry_after=retry_after
        )
        self.daily_limit = daily_limit
        if daily_limit:
            self.kind = "daily_limit"


class ServerError(APIError):
    """5xx: trouble on the server side."""

    kind = "server"


class NetworkError(RunwayImgError):
    """The request did not complete: DNS, connect, TLS, reset or timeout."""

    kind = "network"


class InvalidResponseError(RunwayImgError):
    """The server answered, but not with what the API promises (HTML, bad JSON, missing fields)."""

    kind = "invalid_response"


class AmbiguousCreateError(NetworkError):
    """A create request may have reached the server; it is not safe to send it again."""

    kind = "ambiguous_create"


class TaskError(RunwayImgError):
    """Base for outcomes of a task that are not success. Carries the last task seen."""

    def __init__(
        self, message: str, *, task_id: str, task: Task | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint)
        self._task_id = task_id
        self.task = task

    @property
    def task_id(self) -> str:
        return self._task_id


class TaskFailedError(TaskError):
    """The task ended FAILED."""

    kind = "task_failed"


class TaskCancelledError(TaskError):
    """The task ended CANCELLED."""

    kind = "task_cancelled"


class TaskGoneError(TaskCancelledError):
    """A task we were following answers 404: cancelled or deleted elsewhere."""

    kind = "task_gone"


class WaitTimeoutError(TaskError):
    """We stopped waiting; the task is still running on the server (unless ``cancelled``:
    --cancel-on-timeout cancelled it)."""

    kind = "timeout"

    def __init__(
        self,
        message: str,
        *,
        task_id: str,
        task: Task | None = None,
        hint: str | None = None,
        cancelled: bool = False,
    ) -> None:
        super().__init__(message, task_id=task_id, task=task, hint=hint)
        self.cancelled = cancelled


class SaveError(RunwayImgError):
    """Writing an output to disk failed.

    ``existing`` names a destination that is already there (so ``--force`` is the fix);
    the workflow raises a new SaveError with the task and the files that did land.
    """

    kind = "save"

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        task_id: str | None = None,
        task: Task | None = None,
        saved: Sequence[object] = (),
        existing: Path | None = None,
        total: int | None = None,
    ) -> None:
        super().__init__(message, hint)
        self._task_id = task_id
        self.task = task
        self.saved = tuple(saved)
        self.existing = existing
        self.total = total

    @property
    def task_id(self) -> str | None:
        return self._task_id


class FollowError(RunwayImgError):
    """Following a task that exists (it is created and paid for) failed; ``cause`` says why.

    The exit status is the cause's; the CLI adds how to resume from ``task_id``.
    """

    def __init__(self, cause: RunwayImgError, *, task_id: str) -> None:
        super().__init__(cause.message, cause.hint)
        self.cause = cause
        self._task_id = task_id
        self.kind = cause.kind

    @property
    def task_id(self) -> str:
        return self._task_id


class StdoutError(RunwayImgError):
    """Writing results to stdout failed. ``broken_pipe``: the reader went away (``| head``),
    which shells expect to end quietly; anything else (a full disk) is an error."""

    kind = "stdout"

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        broken_pipe: bool,
        task_id: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.broken_pipe = broken_pipe
        self._task_id = task_id

    @property
    def task_id(self) -> str | None:
        """The task whose id or files stdout was to show (exit 8 names it)."""
        return self._task_id


class Stage(StrEnum):
    """Where an interruption happened, which decides what the user must be told."""

    BEFORE_CREATE = "before_create"  # nothing was sent, or the server refused it (429)
    CREATING = "creating"  # the create may have reached Runway
    WAITING = "waiting"
    SAVING = "saving"


class Interrupted(RunwayImgError):
    """Ctrl-C or SIGTERM: exit 130 after saying how to pick up where we left off."""

    kind = "interrupted"

    def __init__(
        self, message: str, hint: str | None = None, *, stage: Stage, task_id: str | None = None
    ) -> None:
        super().__init__(message, hint)
        self.stage = stage
        self._task_id = task_id

    @property
    def task_id(self) -> str | None:
        return self._task_id
