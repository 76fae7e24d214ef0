"""The documented exit statuses of ``runway-img`` and the one table mapping errors to them."""

from __future__ import annotations

from enum import IntEnum

from runway_cli import errors


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    AUTH = 3
    TASK_FAILED = 4
    TASK_CANCELLED = 5
    TIMEOUT = 6
    NETWORK = 7
    SAVE_FAILED = 8  # writing the output failed (files or stdout)
    STOPPED_EARLY = 9  # batch: stopped by the budget or the daily limit; rerun to continue
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # 128 + SIGPIPE: what shells expect when `| head` stops reading


# Checked in order; the first class that matches wins, so subclasses come first.
_EXIT_FOR_ERROR: tuple[tuple[type[errors.RunwayImgError], ExitStatus], ...] = (
    (errors.Interrupted, ExitStatus.INTERRUPTED),
    (errors.UsageError, ExitStatus.USAGE),
    (errors.CredentialsError, ExitStatus.AUTH),
    (errors.AuthenticationError, ExitStatus.AUTH),
    (errors.PermissionDeniedError, ExitStatus.AUTH),
    (errors.InsufficientCreditsError, ExitStatus.USAGE),
    (errors.BadRequestError, ExitStatus.USAGE),
    (errors.NotFoundError, ExitStatus.USAGE),
    (errors.TaskFailedError, ExitStatus.TASK_FAILED),
    (errors.TaskCancelledError, ExitStatus.TASK_CANCELLED),
    (errors.WaitTimeoutError, ExitStatus.TIMEOUT),
    (errors.SaveError, ExitStatus.SAVE_FAILED),
    (errors.StdoutError, ExitStatus.SAVE_FAILED),
    (errors.RateLimitError, ExitStatus.NETWORK),
    (errors.ServerError, ExitStatus.NETWORK),
    (errors.NetworkError, ExitStatus.NETWORK),
    (errors.InvalidResponseError, ExitStatus.NETWORK),
    (errors.APIError, ExitStatus.NETWORK),
)


def exit_status_for(error: errors.RunwayImgError) -> ExitStatus:
    """The documented exit status for an error (a FollowError exits as its cause)."""
    while isinstance(error, errors.FollowError):
        error = error.cause
    if isinstance(error, errors.StdoutError) and error.broken_pipe:
        return ExitStatus.BROKEN_PIPE
    for cls, status in _EXIT_FOR_ERROR:
        if isinstance(error, cls):
            return status
    return ExitStatus.ERROR
