"""Typed errors raised below the CLI layer.

Every expected failure is one of these. Each carries a one-line ``message`` (what went wrong)
and an optional ``hint`` (what to do next). The CLI maps the class to an exit status in one
place (``runway_cli.exit_codes``); nothing below the CLI prints or exits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class RunwayImgError(Exception):
    """Base class for every expected failure."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(RunwayImgError):
    """Bad input from the user, caught before any request is sent."""


class CredentialsError(RunwayImgError):
    """No API key could be found, or the stored one is unusable."""


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

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error: str | None = None,
        issues: list[Issue] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status_code = status_code
        self.error = error
        self.issues = issues or []


class BadRequestError(APIError):
    """400 / 422: the server refused the request as invalid."""


class AuthenticationError(APIError):
    """401: the key is missing, wrong, disabled or suspended."""


class PermissionDeniedError(APIError):
    """403: the key is valid but may not do this."""


class NotFoundError(APIError):
    """404: no such task (or it was deleted)."""


class RateLimitError(APIError):
    """429: daily task limit reached or too many requests."""


class ServerError(APIError):
    """5xx: trouble on the server side."""


class NetworkError(RunwayImgError):
    """The request did not complete: DNS, connect, TLS, reset or timeout."""


class InvalidResponseError(RunwayImgError):
    """The server answered, but not with what the API promises (HTML, bad JSON, missing fields)."""


class AmbiguousCreateError(NetworkError):
    """A create request may have reached the server; it is not safe to send it again."""


class TaskError(RunwayImgError):
    """Base for outcomes of a task that are not success. Carries the last task object seen."""

    def __init__(
        self,
        message: str,
        *,
        task_id: str,
        task: dict[str, Any] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.task_id = task_id
        self.task = task or {}


class TaskFailedError(TaskError):
    """The task ended FAILED."""


class TaskCancelledError(TaskError):
    """The task ended CANCELLED."""


class WaitTimeoutError(TaskError):
    """We stopped waiting; the task is still running on the server."""


class SaveError(RunwayImgError):
    """The task succeeded but writing its image to disk failed.

    ``task`` and ``saved`` (the files that did land) are filled in by the flow that raised it.
    """

    def __init__(
        self, message: str, hint: str | None = None, *, task_id: str | None = None
    ) -> None:
        super().__init__(message, hint)
        self.task_id = task_id
        self.task: dict[str, Any] | None = None
        self.saved: list[Any] = []
        self.exists = False  # True when the cause is a file already there (retry with --force)


class Interrupted(RunwayImgError):
    """Ctrl-C or SIGTERM: exit 130 after saying how to pick up where we left off."""
