"""Classifying what came back from one HTTP attempt: an answer, or a typed error and whether
another attempt is safe.

Network failures are told apart by exception type along the exception chain (never by message
text); HTTP error answers are classified once, here, from the status and the server's own
error body (the daily-limit 429 and the not-enough-credits 400 can only be told apart that
way). Part of the API client: requests and urllib3 are allowed here and in ``client.py`` only.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from runway_cli import errors
from runway_cli.api.retry import (
    RETRYABLE_CREATE_STATUSES,
    RETRYABLE_READ_STATUSES,
    parse_retry_after,
)

_HINTS = {
    401: "Check your key with `runway-img auth status`; create one at https://dev.runwayml.com.",
    403: "Your key is valid but may not use this; check your plan and model access.",
    404: "Check the task id; deleted tasks cannot be fetched. Recent ids: runway-img history",
    429: "Wait and try again, or check your limits at https://dev.runwayml.com.",
}
_SERVER_HINT = "Runway is having trouble; try again in a minute."
AMBIGUOUS_HINT = "Check `runway-img history` and the Runway dashboard before generating again."
_DAILY_HINT = "The limit resets over a rolling 24 hours; try later or raise your tier."
_CREDITS_HINT = "Add credits at https://dev.runwayml.com, then try again."
_ERROR_CLASSES: dict[int, type[errors.APIError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    422: errors.BadRequestError,
}


# -- classifying network failures by type, along the exception chain ------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps: ``__cause__``, ``__context__``, ``args[0]`` and
    urllib3's ``reason`` (requests wraps urllib3 errors that way)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        if current.args and isinstance(current.args[0], BaseException):
            wrapped.append(current.args[0])
        todo.extend(e for e in wrapped if isinstance(e, BaseException))


# (exception types, description, provably never sent); the first type found in the chain wins.
_NETWORK_REASONS: tuple[tuple[tuple[type[BaseException], ...], str, bool], ...] = (
    ((NameResolutionError, socket.gaierror), "could not resolve the host name", True),
    ((requests.exceptions.ProxyError,), "the proxy refused or failed the connection", False),
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2: it must come first.
    (
        (NewConnectionError, ConnectionRefusedError),
        "could not connect (connection refused or unreachable)",
        True,
    ),
    ((requests.ConnectTimeout, ConnectTimeoutError), "timed out connecting", True),
    # Verification fails in the handshake, before a byte of the request is sent.
    ((ssl.SSLCertVerificationError,), "its TLS certificate could not be verified", True),
    ((requests.exceptions.SSLError, ssl.SSLError), "the TLS connection failed", False),
    (
        (requests.ReadTimeout, ReadTimeoutError, TimeoutError),
        "timed out waiting for the answer",
        False,
    ),
    ((http.client.RemoteDisconnected,), "the server closed the connection", False),
    ((ConnectionResetError, BrokenPipeError), "the connection was reset", False),
    (
        (http.client.IncompleteRead, urllib3.exceptions.IncompleteRead, ProtocolError),
        "the connection broke mid-answer",
        False,
    ),
)


def _network_fact(exc: BaseException) -> tuple[str, bool]:
    chain = list(_chain(exc))
    for types, reason, never_sent in _NETWORK_REASONS:
        if any(isinstance(e, types) for e in chain):
            return reason, never_sent
    return exc.__class__.__name__, False


def describe(exc: BaseException) -> str:
    """A short, key-free description of a network failure."""
    return _network_fact(exc)[0]


def never_sent(exc: BaseException) -> bool:
    """True only when the request provably never reached the server."""
    return _network_fact(exc)[1]


@dataclass(frozen=True)
class Verdict:
    """What one attempt came to: an answer, or an error and whether to try again."""

    response: requests.Response | None
    error: errors.RunwayImgError | None = None
    retryable: bool = False
    retry_after: float | None = None
    rate_limited: bool = False


_CERT_HINT = (
    "If a proxy or a private CA signs it, point REQUESTS_CA_BUNDLE or SSL_CERT_FILE at that "
    "CA's certificate; nothing was sent."
)


def classify_failure(exc: requests.RequestException, url: str, is_create: bool) -> Verdict:
    reason, unsent = _network_fact(exc)
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in _chain(exc)):
        error_ = errors.NetworkError(
            f"Could not reach {urlsplit(url).netloc}: {reason}.", hint=_CERT_HINT
        )
        return Verdict(response=None, error=error_, retryable=False)  # retrying cannot help
    if is_create and not unsent:
        error: errors.RunwayImgError = errors.AmbiguousCreateError(
            f"The create request may have reached Runway ({reason}); "
            "not sending it again, so you are not billed twice.",
            hint=AMBIGUOUS_HINT,
        )
        return Verdict(response=None, error=error, retryable=False)
    error = errors.NetworkError(
        f"Could not reach {urlsplit(url).netloc}: {reason}.",
        hint="Check your network connection and --base-url, then try again.",
    )
    return Verdict(response=None, error=error, retryable=True)


def classify_status(
    method: str, label: str, response: requests.Response, *, is_create: bool, from_api: bool
) -> Verdict:
    """An HTTP error answer. ``from_api``: it came from the API's base URL (not a file host),
    so a 404 without the API's JSON error body means the URL is not the API at all."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    error = _api_error(method, label, response, retry_after)
    response.close()
    if from_api and status == 404 and error.error is None:
        host = urlsplit(response.url).netloc
        not_api = errors.InvalidResponseError(
            f"{method} {label} answered HTTP 404 with {content_kind(response)}: "
            f"{host} does not look like the Runway API.",
            hint="Check --base-url / RUNWAYML_BASE_URL (e.g. https://api.dev.runwayml.com).",
        )
        return Verdict(response=None, error=not_api)
    if is_create and status >= 500 and status not in RETRYABLE_CREATE_STATUSES:
        # Only 503 says "not taken in"; any other 5xx may come after the task was
        # created, so it is never sent again.
        ambiguous = errors.AmbiguousCreateError(
            f"Runway answered HTTP {status} to the create request; "
            "the task may have been created, so it is not sent again.",
            hint=AMBIGUOUS_HINT,
        )
        return Verdict(response=None, error=ambiguous)
    statuses = RETRYABLE_CREATE_STATUSES if is_create else RETRYABLE_READ_STATUSES
    daily = isinstance(error, errors.RateLimitError) and error.daily_limit
    return Verdict(
        response=None,
        error=error,
        retryable=status in statuses and not daily,
        retry_after=retry_after,
        rate_limited=status == 429,
    )


def content_kind(response: requests.Response) -> str:
    ctype = response.headers.get("Content-Type", "").split(";")[0].strip()
    if "html" in ctype or response.text.lstrip().lower().startswith(("<!doctype", "<html")):
        return "an HTML page"
    return ctype or "no content type"


def _parse_issues(body: dict[str, Any]) -> list[errors.Issue]:
    issues = []
    for item in body.get("issues") or []:
        if isinstance(item, dict):
            path = item.get("path")
            code = item.get("code")
            issues.append(
                errors.Issue(
                    path=tuple(str(p) for p in path) if isinstance(path, list) else (),
                    message=str(item.get("message", "")),
                    code=code if isinstance(code, str) else None,
                )
            )
    return issues


def _api_error(
    method: str, label: str, response: requests.Response, retry_after: float | None
) -> errors.APIError:
    """The typed error for an HTTP error answer, classified once from the server's own body:
    the daily-limit 429 and the not-enough-credits 400 can only be told apart that way."""
    status = response.status_code
    try:
        body = response.json()
    except (ValueError, RecursionError):
        body = None
    server_text = body.get("error") if isinstance(body, dict) else None
    if not isinstance(server_text, str) or not server_text:
        server_text = None
    if server_text:
        message = f"{server_text} (HTTP {status})"
    else:
        message = f"{method} {label} failed with HTTP {status} ({content_kind(response)})"
    lowered = (server_text or "").lower()
    if status == 429:
        daily = "daily" in lowered
        return errors.RateLimitError(
            message,
            error=server_text,
            daily_limit=daily,
            hint=_DAILY_HINT if daily else _HINTS[429],
            retry_after=retry_after,
        )
    if status == 400 and "enough credits" in lowered:
        return errors.InsufficientCreditsError(
            message, status_code=status, error=server_text, hint=_CREDITS_HINT
        )
    cls = _ERROR_CLASSES.get(status)
    if cls is None:
        cls = errors.ServerError if status >= 500 else errors.APIError
    return cls(
        message,
        status_code=status,
        error=server_text,
        issues=_parse_issues(body) if isinstance(body, dict) else (),
        hint=_hint(status, label),
        retry_after=retry_after,
    )


def _hint(status: int, label: str) -> str | None:
    if status == 404 and not label.startswith("/v1/tasks/"):  # no task id involved
        return "Check the base URL (RUNWAYML_BASE_URL, --base-url or the profile's)."
    return _HINTS.get(status, _SERVER_HINT if status >= 500 else None)
