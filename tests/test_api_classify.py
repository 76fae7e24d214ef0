"""Classifying one attempt, without a network: network failures by exception type along the
chain (never by message text), HTTP error answers once from the status and the server's body."""

from __future__ import annotations

import http.client
import json
import socket
import ssl

import pytest
import requests
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from runway_cli import errors
from runway_cli.api.classify import (
    classify_failure,
    classify_status,
    content_kind,
    describe,
    never_sent,
)

URL = "https://api.example.test/v1/tasks/x"


def wrapped(inner: BaseException, outer: type[requests.RequestException]) -> BaseException:
    """``inner`` wrapped the way requests wraps urllib3's errors: MaxRetryError.reason."""
    return outer(MaxRetryError(None, URL, reason=inner))  # type: ignore[arg-type]


def aborted(inner: BaseException) -> requests.ConnectionError:
    """As urllib3 raises it: ``ProtocolError("Connection aborted.", e) from e``, in requests'."""
    protocol = ProtocolError("Connection aborted.", inner)
    protocol.__cause__ = inner
    return requests.ConnectionError(protocol)


def chained(inner: BaseException) -> requests.ConnectionError:
    """``inner`` reachable only through ``__cause__``."""
    outer = requests.ConnectionError("failed")
    outer.__cause__ = inner
    return outer


CASES = [
    # (exception, description, provably never sent)
    (socket.gaierror(-2, "Name or service not known"), "could not resolve the host name", True),
    (
        wrapped(NameResolutionError("h", None, socket.gaierror()), requests.ConnectionError),  # type: ignore[arg-type]
        "could not resolve the host name",
        True,
    ),
    (
        wrapped(NewConnectionError(None, "refused"), requests.ConnectionError),  # type: ignore[arg-type]
        "could not connect (connection refused or unreachable)",
        True,
    ),
    (
        chained(ConnectionRefusedError()),
        "could not connect (connection refused or unreachable)",
        True,
    ),
    (requests.ConnectTimeout(), "timed out connecting", True),
    (
        wrapped(ConnectTimeoutError("slow"), requests.ConnectionError),
        "timed out connecting",
        True,
    ),
    (requests.exceptions.ProxyError(), "the proxy refused or failed the connection", False),
    (requests.exceptions.SSLError(), "the TLS connection failed", False),
    (chained(ssl.SSLError()), "the TLS connection failed", False),
    (requests.ReadTimeout(), "timed out waiting for the answer", False),
    (
        requests.ConnectionError(ReadTimeoutError(None, URL, "read")),  # type: ignore[arg-type]
        "timed out waiting for the answer",
        False,
    ),
    (chained(TimeoutError()), "timed out waiting for the answer", False),
    (
        aborted(http.client.RemoteDisconnected("closed")),
        "the server closed the connection",
        False,
    ),
    (chained(ConnectionResetError()), "the connection was reset", False),
    (aborted(ConnectionResetError(104, "reset")), "the connection was reset", False),
    (chained(BrokenPipeError()), "the connection was reset", False),
    (
        requests.exceptions.ChunkedEncodingError(
            ProtocolError("broken", urllib3.exceptions.IncompleteRead(10, 20))
        ),
        "the connection broke mid-answer",
        False,
    ),
    (chained(http.client.IncompleteRead(b"")), "the connection broke mid-answer", False),
    (requests.ConnectionError("something new"), "ConnectionError", False),
]


@pytest.mark.parametrize(("exc", "reason", "unsent"), CASES, ids=[c[1][:30] for c in CASES])
def test_network_failures_are_classified_by_type(exc, reason, unsent) -> None:
    assert describe(exc) == reason
    assert never_sent(exc) is unsent


def test_refused_wins_over_timed_out_connecting() -> None:
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2.
    exc = wrapped(NewConnectionError(None, "x"), requests.ConnectionError)  # type: ignore[arg-type]
    assert describe(exc).startswith("could not connect")


def test_a_cycle_in_the_chain_ends() -> None:
    a = requests.ConnectionError("a")
    b = ValueError("b")
    a.__context__ = b
    b.__context__ = a
    assert describe(a) == "ConnectionError" and not never_sent(a)


@pytest.mark.parametrize(
    ("exc", "is_create", "error", "retryable"),
    [
        (requests.ReadTimeout(), False, errors.NetworkError, True),
        (requests.ReadTimeout(), True, errors.AmbiguousCreateError, False),
        (requests.ConnectTimeout(), True, errors.NetworkError, True),
        (chained(ConnectionResetError()), True, errors.AmbiguousCreateError, False),
    ],
)
def test_classify_failure(exc, is_create, error, retryable) -> None:
    verdict = classify_failure(exc, URL, is_create)
    assert type(verdict.error) is error and verdict.retryable is retryable
    assert verdict.response is None
    if error is errors.NetworkError:
        assert "api.example.test" in verdict.error.message


# --- HTTP error answers ----------------------------------------------------------------------


def answer(
    status: int, body: object = None, *, content_type: str = "application/json", **headers: str
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    if isinstance(body, bytes):
        response._content = body
    else:
        response._content = b"" if body is None else json.dumps(body).encode()
    response.headers.update({"Content-Type": content_type, **headers})
    response.url = URL
    return response


@pytest.mark.parametrize(
    ("status", "cls", "hint_part"),
    [
        (400, errors.BadRequestError, None),
        (422, errors.BadRequestError, None),
        (401, errors.AuthenticationError, "auth status"),
        (403, errors.PermissionDeniedError, "plan"),
        (404, errors.NotFoundError, "task id"),
        (429, errors.RateLimitError, "Wait and try again"),
        (500, errors.ServerError, "trouble"),
        (599, errors.ServerError, "trouble"),
        (418, errors.APIError, None),
    ],
)
def test_status_to_error_class(status, cls, hint_part) -> None:
    verdict = classify_status(
        "GET", "/v1/tasks/x", answer(status, {"error": "Nope"}), is_create=False, from_api=True
    )
    assert type(verdict.error) is cls
    assert verdict.error.message == f"Nope (HTTP {status})"
    assert verdict.error.error == "Nope"
    if hint_part is None:
        assert verdict.error.hint is None
    else:
        assert hint_part in verdict.error.hint


@pytest.mark.parametrize("path", ["/v1/organization", "/v1/text_to_image"])
def test_a_404_where_no_task_id_is_involved_points_at_the_base_url(path: str) -> None:
    verdict = classify_status(
        "GET", path, answer(404, {"error": "Not found"}), is_create=False, from_api=True
    )
    assert type(verdict.error) is errors.NotFoundError
    assert verdict.error.hint is not None and "Check the base URL" in verdict.error.hint


@pytest.mark.parametrize(
    ("status", "is_create", "retryable"),
    [
        (429, False, True),
        (500, False, True),
        (502, False, True),
        (503, False, True),
        (504, False, True),
        (400, False, False),
        (404, False, False),
        (429, True, True),
        (503, True, True),
        (400, True, False),
    ],
)
def test_which_statuses_are_worth_another_attempt(status, is_create, retryable) -> None:
    verdict = classify_status(
        "GET", "/v1/x", answer(status, {"error": "x"}), is_create=is_create, from_api=True
    )
    assert verdict.retryable is retryable
    assert verdict.rate_limited is (status == 429)


@pytest.mark.parametrize("status", [500, 502, 504, 501])
def test_create_5xx_other_than_503_is_ambiguous(status) -> None:
    verdict = classify_status(
        "POST", "/v1/text_to_image", answer(status, {}), is_create=True, from_api=True
    )
    assert isinstance(verdict.error, errors.AmbiguousCreateError)
    assert not verdict.retryable


@pytest.mark.parametrize(
    ("status", "text", "cls", "kind", "retryable"),
    [
        (429, "Daily task limit reached.", errors.RateLimitError, "daily_limit", False),
        (429, "Too many requests.", errors.RateLimitError, "rate_limited", True),
        (
            400,
            "Not enough credits.",
            errors.InsufficientCreditsError,
            "insufficient_credits",
            False,
        ),
        (400, "Validation of body failed", errors.BadRequestError, "bad_request", False),
    ],
)
def test_limits_and_credits_are_told_apart_by_the_server_text(
    status, text, cls, kind, retryable
) -> None:
    verdict = classify_status(
        "POST", "/v1/text_to_image", answer(status, {"error": text}), is_create=True, from_api=True
    )
    assert type(verdict.error) is cls and verdict.error.kind == kind
    assert verdict.retryable is retryable


def test_retry_after_is_read() -> None:
    verdict = classify_status(
        "GET", "/v1/x", answer(503, {}, **{"Retry-After": "4"}), is_create=False, from_api=True
    )
    assert verdict.retry_after == 4.0


def test_issues_are_parsed_and_odd_ones_tolerated() -> None:
    body = {
        "error": "Validation of body failed",
        "issues": [
            {"path": ["ratio"], "message": "Invalid enum value", "code": "invalid_enum_value"},
            {"path": "not-a-list", "message": 5},
            "not an object",
            {},
        ],
    }
    verdict = classify_status("POST", "/v1/x", answer(400, body), is_create=False, from_api=True)
    issues = verdict.error.issues
    assert [str(i) for i in issues] == ["ratio: Invalid enum value", "(body): 5", "(body): "]
    assert issues[0].code == "invalid_enum_value" and issues[1].code is None


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (b"<!DOCTYPE html><p>Bad gateway</p>", "text/plain", "an HTML page"),
        (b"<p>x</p>", "text/html; charset=utf-8", "an HTML page"),
        (b"oops", "text/plain", "text/plain"),
        (b"", "", "no content type"),
    ],
)
def test_answers_without_the_api_error_body_say_what_came(body, content_type, kind) -> None:
    response = answer(502, body, content_type=content_type)
    assert content_kind(response) == kind
    error = classify_status(
        "GET", "/v1/organization", response, is_create=False, from_api=True
    ).error
    assert error.message == f"GET /v1/organization failed with HTTP 502 ({kind})"
    assert error.error is None


@pytest.mark.parametrize("body", [{"error": ""}, {"error": 5}, ["error"], "error"])
def test_an_unusable_error_field_is_ignored(body) -> None:
    verdict = classify_status("GET", "/v1/x", answer(500, body), is_create=False, from_api=True)
    error = verdict.error
    assert error.error is None and "failed with HTTP 500" in error.message


def test_api_404_without_the_api_error_body_means_the_url_is_not_the_api() -> None:
    response = answer(404, b"<html>Not found</html>", content_type="text/html")
    verdict = classify_status("GET", "/v1/tasks/x", response, is_create=False, from_api=True)
    assert type(verdict.error) is errors.InvalidResponseError
    assert "does not look like the Runway API" in verdict.error.message
    assert "--base-url" in (verdict.error.hint or "")


def test_api_404_with_the_api_error_body_is_not_found() -> None:
    response = answer(404, {"error": "Task not found"})
    verdict = classify_status("GET", "/v1/tasks/x", response, is_create=False, from_api=True)
    assert type(verdict.error) is errors.NotFoundError


def test_file_host_404_is_not_found_whatever_its_body() -> None:
    response = answer(404, b"<html>Not found</html>", content_type="text/html")
    verdict = classify_status("GET", "/f.png", response, is_create=False, from_api=False)
    assert type(verdict.error) is errors.NotFoundError
