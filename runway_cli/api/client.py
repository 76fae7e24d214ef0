"""HTTP client for the Runway API. Uses requests only; raises typed errors; never prints.

One ``requests.Session`` carries the auth and version headers to the API. Output files are
fetched with a second, header-free session, so the API key never goes to the file host.
Answers are parsed once, here, into typed results (``api.types``). Requests are logged to the
``runway_cli.http`` logger (method, path, status, ms, retries); the key is never logged.

Every request goes through one loop: *attempt* (send once), *classify* (success, or a typed
error and whether another attempt is safe), *decide* (``RetryPolicy.decide``: wait or give up).
"""

from __future__ import annotations

import http.client
import io
import logging
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
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

from runway_cli import __version__, errors
from runway_cli.api.retry import (
    RETRYABLE_CREATE_STATUSES,
    RETRYABLE_READ_STATUSES,
    RetryPolicy,
    parse_retry_after,
)
from runway_cli.api.types import CreatedTask, Organization, RetryEvent, Task, Upload
from runway_cli.wire import API_VERSION, SANDBOX_HEADER, VERSION_HEADER

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
DOWNLOAD_READ_TIMEOUT = 60.0

log = logging.getLogger("runway_cli.http")

_HINTS = {
    401: "Check your key with `runway-img auth status`; create one at https://dev.runwayml.com.",
    403: "Your key is valid but may not use this; check your plan and model access.",
    404: "Check the task id; deleted tasks cannot be fetched. Recent ids: runway-img history",
    429: "Wait and try again, or check your limits at https://dev.runwayml.com.",
}
_SERVER_HINT = "Runway is having trouble; try again in a minute."
_AMBIGUOUS_HINT = "Check `runway-img history` and the Runway dashboard before generating again."
_DAILY_HINT = "The limit resets over a rolling 24 hours; try later or raise your tier."
_CREDITS_HINT = "Add credits at https://dev.runwayml.com, then try again."
_BAD_URL_ERRORS = (  # raised before anything is sent
    requests.exceptions.InvalidJSONError,
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
)
_ERROR_CLASSES: dict[int, type[errors.APIError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    422: errors.BadRequestError,
}


@dataclass
class Download:
    """An open, streaming answer for one output file."""

    response: requests.Response
    status: int
    content_type: str
    length: int | None
    content_range: str | None

    def chunks(self, size: int = 64 * 1024) -> Iterator[bytes]:
        try:
            yield from self.response.iter_content(size)
        except requests.RequestException as exc:
            raise errors.NetworkError(f"The download was cut off: {describe(exc)}.") from exc

    def close(self) -> None:
        self.response.close()


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
class _Verdict:
    """What one attempt came to: an answer, or an error and whether to try again."""

    response: requests.Response | None
    error: errors.RunwayImgError | None = None
    retryable: bool = False
    retry_after: float | None = None
    rate_limited: bool = False


class _ProgressBody(io.BytesIO):
    """A request body that reports how much the HTTP layer has read (upload progress)."""

    def __init__(self, data: bytes, on_progress: Callable[[int, int], None]) -> None:
        super().__init__(data)
        self._total = len(data)
        self._on_progress = on_progress

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self._on_progress(self.tell(), self._total)
        return chunk


class RunwayClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        retry: RetryPolicy | None = None,
        read_timeout: float = READ_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        pool_size: int = 10,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.read_timeout = read_timeout
        # Called once with the base URL when a runway-img sandbox answers (it sends a header).
        self.on_sandbox: Callable[[str], None] | None = None
        # Called before each retry, so a wait (above all a rate limit) is visible.
        self.on_retry: Callable[[RetryEvent], None] = lambda event: None
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        user_agent = f"runway-img/{__version__}"
        self.session = _session(pool_size)
        self.session.headers.update(
            {
                "Authorization": f"Bearer {api_key}",
                VERSION_HEADER: API_VERSION,
                "User-Agent": user_agent,
                "Accept": "application/json",
            }
        )
        # Output URLs point at a file host: never send it our key.
        self.files = _session(pool_size)
        # identity: Content-Length and Range offsets then count the bytes we write to disk
        self.files.headers.update({"User-Agent": user_agent, "Accept-Encoding": "identity"})

    def close(self) -> None:
        self.session.close()
        self.files.close()

    def __enter__(self) -> RunwayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- API calls -------------------------------------------------------------------------

    def create_text_to_image(self, body: Mapping[str, Any]) -> CreatedTask:
        try:
            data = self._call("POST", "/v1/text_to_image", json=body, is_create=True)
        except errors.InvalidResponseError as exc:
            raise errors.AmbiguousCreateError(
                f"{exc.message.rstrip('.')}; the task may have been created.",
                hint=_AMBIGUOUS_HINT,
            ) from exc
        task_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(task_id, str) or not _is_uuid(task_id):
            raise errors.AmbiguousCreateError(
                "Runway accepted the create request but its answer has no usable task id: "
                "the task may have been created and cannot be followed from here.",
                hint=_AMBIGUOUS_HINT,
            )
        estimate = data.get("estimatedCost")
        credits = estimate.get("credits") if isinstance(estimate, dict) else None
        return CreatedTask(
            id=task_id,
            estimated_credits=credits
            if isinstance(credits, int | float) and not isinstance(credits, bool)
            else None,
            raw=data,
        )

    def get_task(self, task_id: str) -> Task:
        data = self._call("GET", f"/v1/tasks/{task_id}")
        if not isinstance(data, dict) or not isinstance(data.get("status"), str):
            raise errors.InvalidResponseError(
                f"The answer for task {task_id} has no status field.",
                hint="Try again; if it persists the base URL may not be a Runway API.",
            )
        return Task.from_api(data, task_id)

    def delete_task(self, task_id: str) -> None:
        self._call("DELETE", f"/v1/tasks/{task_id}")

    def get_organization(self) -> Organization:
        data = self._call("GET", "/v1/organization")
        if not isinstance(data, dict):
            raise errors.InvalidResponseError("The organization answer is not a JSON object.")
        return Organization.from_api(data)

    def create_upload(self, filename: str) -> Upload:
        """``POST /v1/uploads``: where and how to upload one file. Treated like a create."""
        data = self._call(
            "POST", "/v1/uploads", json={"filename": filename, "type": "ephemeral"}, is_create=True
        )
        fields = data.get("fields") if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("uploadUrl"), str)
            or not isinstance(data.get("runwayUri"), str)
            or not isinstance(fields, dict)
        ):
            raise errors.InvalidResponseError(
                "The upload answer lacks uploadUrl, fields or runwayUri."
            )
        return Upload(
            upload_url=data["uploadUrl"],
            fields={str(k): str(v) for k, v in fields.items()},
            runway_uri=data["runwayUri"],
        )

    def upload_file(
        self,
        upload: Upload,
        filename: str,
        content: bytes,
        mime: str,
        on_progress: Callable[[int, int], None] = lambda sent, total: None,
    ) -> str:
        """Send the file to the upload URL as multipart/form-data; return its ``runway://`` URI.

        Goes to the storage host, not the API, so no key is sent. Repeating it is harmless
        (same key, same bytes), so it is retried like a read.
        """
        fields: list[tuple[str, Any]] = list(upload.fields.items())
        fields.append(("file", (filename, content, mime)))
        data, content_type = urllib3.encode_multipart_formdata(fields)
        body = _ProgressBody(data, on_progress)
        self._send(
            self.files,
            "POST",
            upload.upload_url,
            label=_url_label(upload.upload_url),
            data=body,
            headers={"Content-Type": content_type},
            timeout=(CONNECT_TIMEOUT, max(self.read_timeout, DOWNLOAD_READ_TIMEOUT)),
        ).close()
        return upload.runway_uri

    def open_download(self, url: str, *, offset: int = 0) -> Download:
        """Open an output URL for streaming (retrying reads); ``offset`` asks for a Range."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self._send(
            self.files,
            "GET",
            url,
            label=_url_label(url),
            headers=headers,
            stream=True,
            timeout=(CONNECT_TIMEOUT, max(self.read_timeout, DOWNLOAD_READ_TIMEOUT)),
        )
        length = response.headers.get("Content-Length")
        return Download(
            response=response,
            status=response.status_code,
            content_type=response.headers.get("Content-Type", ""),
            length=int(length) if length and length.isascii() and length.isdigit() else None,
            content_range=response.headers.get("Content-Range"),
        )

    # -- plumbing --------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, json: Any = None, is_create: bool = False) -> Any:
        response = self._send(
            self.session,
            method,
            self.base_url + path,
            label=path,
            json=json,
            is_create=is_create,
            timeout=(CONNECT_TIMEOUT, self.read_timeout),
        )
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except (ValueError, RecursionError):
            raise errors.InvalidResponseError(
                f"{method} {path} answered HTTP {response.status_code} with something that is "
                f"not JSON ({_content_kind(response)}).",
                hint="Check --base-url / RUNWAYML_BASE_URL points at the Runway API.",
            ) from None

    def _send(
        self,
        session: requests.Session,
        method: str,
        url: str,
        *,
        label: str,
        is_create: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            verdict = self._attempt(session, method, url, label, is_create, kwargs)
            if verdict.response is not None:
                return verdict.response
            assert verdict.error is not None
            wait = self.retry.decide(
                attempt=attempt,
                elapsed=self._clock() - started,
                retryable=verdict.retryable,
                retry_after=verdict.retry_after,
            )
            if wait is None:
                raise verdict.error
            log.info(
                "retrying %s %s in %.1fs (attempt %d of %d): %s",
                method,
                label,
                wait,
                attempt + 1,
                self.retry.max_attempts,
                verdict.error.message,
            )
            self.on_retry(
                RetryEvent(
                    method=method,
                    label=label,
                    attempt=attempt + 1,
                    max_attempts=self.retry.max_attempts,
                    wait=wait,
                    reason=verdict.error.message,
                    rate_limited=verdict.rate_limited,
                )
            )
            self._pause(wait, is_create=is_create)

    def _pause(self, wait: float, *, is_create: bool) -> None:
        try:
            self._sleep(wait)
        except KeyboardInterrupt:
            if not is_create:
                raise
            # Only refused or unsent creates are retried, so there is nothing to look for.
            raise errors.Interrupted(
                "Interrupted while waiting to send the create request again; Runway refused "
                "it, so no task was created.",
                stage=errors.Stage.BEFORE_CREATE,
            ) from None

    def _attempt(
        self,
        session: requests.Session,
        method: str,
        url: str,
        label: str,
        is_create: bool,
        kwargs: dict[str, Any],
    ) -> _Verdict:
        """Send once and classify what came back."""
        t0 = self._clock()
        body = kwargs.get("data")
        if isinstance(body, io.BytesIO):
            body.seek(0)  # a retried upload starts from the first byte again
        try:
            response = session.request(method, url, **kwargs)
        except _BAD_URL_ERRORS:
            raise errors.UsageError(
                f"Cannot send a request to {label}: the URL, a header or the body is "
                "malformed; nothing was sent.",
                hint="Check --base-url / RUNWAYML_BASE_URL, the key and -p values.",
            ) from None
        except requests.RequestException as exc:
            log.info("%s %s -> %s (%d ms)", method, label, describe(exc), _ms(t0, self._clock()))
            return self._classify_failure(exc, url, is_create)
        log.info("%s %s -> %d (%d ms)", method, label, response.status_code, _ms(t0, self._clock()))
        if self.on_sandbox is not None and response.headers.get(SANDBOX_HEADER):
            notify, self.on_sandbox = self.on_sandbox, None
            notify(self.base_url)
        if response.status_code < 400:
            return _Verdict(response=response)
        return _classify_status(method, label, response, is_create)

    def _classify_failure(
        self, exc: requests.RequestException, url: str, is_create: bool
    ) -> _Verdict:
        reason, unsent = _network_fact(exc)
        if is_create and not unsent:
            error: errors.RunwayImgError = errors.AmbiguousCreateError(
                f"The create request may have reached Runway ({reason}); "
                "not sending it again, so you are not billed twice.",
                hint=_AMBIGUOUS_HINT,
            )
            return _Verdict(response=None, error=error, retryable=False)
        error = errors.NetworkError(
            f"Could not reach {urlsplit(url).netloc}: {reason}.",
            hint="Check your network connection and --base-url, then try again.",
        )
        return _Verdict(response=None, error=error, retryable=True)


def _classify_status(
    method: str, label: str, response: requests.Response, is_create: bool
) -> _Verdict:
    status = response.status_code
    error = _api_error(method, label, response)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    response.close()
    if is_create and status >= 500 and status not in RETRYABLE_CREATE_STATUSES:
        # Only 503 says "not taken in"; any other 5xx may come after the task was
        # created, so it is never sent again.
        ambiguous = errors.AmbiguousCreateError(
            f"Runway answered HTTP {status} to the create request; "
            "the task may have been created, so it is not sent again.",
            hint=_AMBIGUOUS_HINT,
        )
        return _Verdict(response=None, error=ambiguous)
    statuses = RETRYABLE_CREATE_STATUSES if is_create else RETRYABLE_READ_STATUSES
    daily = isinstance(error, errors.RateLimitError) and error.daily_limit
    return _Verdict(
        response=None,
        error=error,
        retryable=status in statuses and not daily,
        retry_after=retry_after,
        rate_limited=status == 429,
    )


def _session(pool_size: int) -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _ms(t0: float, t1: float) -> int:
    return int((t1 - t0) * 1000)


def _url_label(url: str) -> str:
    """Host and path of an output URL, without the (possibly signed) query string."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def _content_kind(response: requests.Response) -> str:
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


def _api_error(method: str, label: str, response: requests.Response) -> errors.APIError:
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
        message = f"{method} {label} failed with HTTP {status} ({_content_kind(response)})"
    lowered = (server_text or "").lower()
    if status == 429:
        daily = "daily" in lowered
        return errors.RateLimitError(
            message,
            error=server_text,
            daily_limit=daily,
            hint=_DAILY_HINT if daily else _HINTS[429],
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
        hint=_HINTS.get(status, _SERVER_HINT if status >= 500 else None),
    )
