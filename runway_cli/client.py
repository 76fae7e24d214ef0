"""HTTP client for the Runway API. Uses requests only; raises typed errors; never prints.

One ``requests.Session`` carries the auth and version headers to the API. Output files are
fetched with a second, header-free session, so the API key never goes to the file host.
Requests are logged to the ``runway_cli.http`` logger (method, path, status, ms, retries);
the key is never logged.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
)

from runway_cli import __version__, errors
from runway_cli.retry import (
    RETRYABLE_CREATE_STATUSES,
    RETRYABLE_READ_STATUSES,
    RetryPolicy,
    parse_retry_after,
)

API_VERSION = "2024-11-06"
SANDBOX_HEADER = "X-Runway-Img-Sandbox"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
DOWNLOAD_READ_TIMEOUT = 60.0
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})

log = logging.getLogger("runway_cli.http")

_HINTS = {
    401: "Check your key with `runway-img auth status`; create one at https://dev.runwayml.com.",
    403: "Your key is valid but may not use this; check your plan and model access.",
    404: "Check the task id; deleted tasks cannot be fetched. Recent ids: runway-img history",
    429: "Wait and try again, or check your limits at https://dev.runwayml.com.",
}
_SERVER_HINT = "Runway is having trouble; try again in a minute."
_AMBIGUOUS_HINT = "Check `runway-img history` and the Runway dashboard before generating again."
_BAD_URL_ERRORS = (  # raised before anything is sent
    requests.exceptions.InvalidJSONError,
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


_ERROR_CLASSES: dict[int, type[errors.APIError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    422: errors.BadRequestError,
    429: errors.RateLimitError,
}


@dataclass
class Download:
    """An open, streaming response for one output file."""

    response: requests.Response
    content_type: str
    length: int | None

    def chunks(self, size: int = 64 * 1024) -> Iterator[bytes]:
        try:
            yield from self.response.iter_content(size)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise errors.NetworkError(f"The download was cut off: {_reason(exc)}.") from None
        except requests.RequestException as exc:
            raise errors.NetworkError(f"The download failed: {_reason(exc)}.") from None

    def close(self) -> None:
        self.response.close()


def _reason(exc: BaseException) -> str:
    """A short, key-free description of a requests exception."""
    if isinstance(exc, requests.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, requests.ReadTimeout):
        return "timed out waiting for the answer"
    inner: BaseException | None = exc.args[0] if exc.args else None
    if isinstance(inner, MaxRetryError) and inner.reason is not None:
        inner = inner.reason
    if isinstance(inner, NameResolutionError):
        return "could not resolve the host name"
    if isinstance(inner, NewConnectionError):
        return "could not connect (connection refused or unreachable)"
    text = str(inner if inner is not None else exc)
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "the server closed the connection"
    if "Connection broken" in text or "IncompleteRead" in text:
        return "the connection broke mid-answer"
    if "reset" in text.lower():
        return "the connection was reset"
    return exc.__class__.__name__


def _never_sent(exc: requests.RequestException) -> bool:
    """True only when the request provably never reached the server."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    inner = exc.args[0] if exc.args else None
    if isinstance(inner, MaxRetryError):
        return isinstance(inner.reason, NewConnectionError | ConnectTimeoutError)
    return False


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.read_timeout = read_timeout
        # Called once with the base URL when a runway-img sandbox answers (it sends a header).
        self.on_sandbox: Callable[[str], None] | None = None
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        user_agent = f"runway-img/{__version__}"
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {api_key}",
                "X-Runway-Version": API_VERSION,
                "User-Agent": user_agent,
                "Accept": "application/json",
            }
        )
        # Output URLs point at a file host: never send it our key.
        self.files = requests.Session()
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

    def create_text_to_image(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            data = self._call("POST", "/v1/text_to_image", json=body, is_create=True)
        except errors.InvalidResponseError as exc:
            raise errors.AmbiguousCreateError(
                f"{exc.message.rstrip('.')}; the task may have been created.",
                hint=_AMBIGUOUS_HINT,
            ) from None
        task_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not _is_uuid(task_id):
            raise errors.AmbiguousCreateError(
                "Runway accepted the create request but its answer has no usable task id: "
                "the task may have been created and cannot be followed from here.",
                hint=_AMBIGUOUS_HINT,
            )
        assert isinstance(data, dict)
        return data

    def get_task(self, task_id: str) -> dict[str, Any]:
        data = self._call("GET", f"/v1/tasks/{task_id}")
        if not isinstance(data, dict) or not isinstance(data.get("status"), str):
            raise errors.InvalidResponseError(
                f"The answer for task {task_id} has no status field.",
                hint="Try again; if it persists the base URL may not be a Runway API.",
            )
        return data

    def delete_task(self, task_id: str) -> None:
        self._call("DELETE", f"/v1/tasks/{task_id}")

    def get_organization(self) -> dict[str, Any]:
        data = self._call("GET", "/v1/organization")
        if not isinstance(data, dict):
            raise errors.InvalidResponseError("The organization answer is not a JSON object.")
        return data

    def create_upload(self, filename: str) -> dict[str, Any]:
        """``POST /v1/uploads``: where and how to upload one file. Treated like a create."""
        data = self._call(
            "POST", "/v1/uploads", json={"filename": filename, "type": "ephemeral"}, is_create=True
        )
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("uploadUrl"), str)
            or not isinstance(data.get("runwayUri"), str)
            or not isinstance(data.get("fields"), dict)
        ):
            raise errors.InvalidResponseError(
                "The upload answer lacks uploadUrl, fields or runwayUri."
            )
        return data

    def upload_file(
        self,
        upload: dict[str, Any],
        filename: str,
        content: bytes,
        mime: str,
        on_progress: Callable[[int, int], None] = lambda sent, total: None,
    ) -> str:
        """Send the file to the upload URL as multipart/form-data; return its ``runway://`` URI.

        Goes to the storage host, not the API, so no key is sent. Repeating it is harmless
        (same key, same bytes), so it is retried like a read.
        """
        body = _MultipartBody(upload["fields"], filename, content, mime, on_progress)
        self._send(
            self.files,
            "POST",
            upload["uploadUrl"],
            label=_url_label(upload["uploadUrl"]),
            data=body,
            headers={"Content-Type": body.content_type},
            timeout=(CONNECT_TIMEOUT, max(self.read_timeout, DOWNLOAD_READ_TIMEOUT)),
        ).close()
        return str(upload["runwayUri"])

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
            content_type=response.headers.get("Content-Type", ""),
            length=int(length) if length and length.isascii() and length.isdigit() else None,
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
        except ValueError:
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
        policy = self.retry
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            t0 = self._clock()
            retry_after: float | None = None
            body = kwargs.get("data")
            if isinstance(body, _MultipartBody):
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
                reason = _reason(exc)
                log.info("%s %s -> %s (%d ms)", method, label, reason, _ms(t0, self._clock()))
                if is_create and not _never_sent(exc):
                    raise errors.AmbiguousCreateError(
                        f"The create request may have reached Runway ({reason}); "
                        "not sending it again, so you are not billed twice.",
                        hint=_AMBIGUOUS_HINT,
                    ) from None
                error: errors.RunwayImgError = errors.NetworkError(
                    f"Could not reach {urlsplit(url).netloc}: {reason}.",
                    hint="Check your network connection and --base-url, then try again.",
                )
                retryable = True
            else:
                log.info(
                    "%s %s -> %d (%d ms)",
                    method,
                    label,
                    response.status_code,
                    _ms(t0, self._clock()),
                )
                if self.on_sandbox is not None and response.headers.get(SANDBOX_HEADER):
                    notify, self.on_sandbox = self.on_sandbox, None
                    notify(self.base_url)
                if response.status_code < 400:
                    return response
                error = _api_error(method, label, response)
                statuses = RETRYABLE_CREATE_STATUSES if is_create else RETRYABLE_READ_STATUSES
                retryable = response.status_code in statuses
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                response.close()
                if is_create and response.status_code >= 500 and not retryable:
                    # Only 503 says "not taken in"; any other 5xx may come after the task
                    # was created, so it is never sent again.
                    raise errors.AmbiguousCreateError(
                        f"Runway answered HTTP {response.status_code} to the create request; "
                        "the task may have been created, so it is not sent again.",
                        hint=_AMBIGUOUS_HINT,
                    )
            if not retryable or attempt >= policy.max_attempts:
                raise error
            wait = policy.delay(attempt, retry_after)
            if self._clock() - started + wait > policy.total_budget:
                raise error
            log.info(
                "retrying %s %s in %.1fs (attempt %d of %d): %s",
                method,
                label,
                wait,
                attempt + 1,
                policy.max_attempts,
                error.message,
            )
            self._sleep(wait)


class _MultipartBody:
    """A multipart/form-data body that reports progress as it is read by the HTTP layer."""

    def __init__(
        self,
        fields: dict[str, Any],
        filename: str,
        content: bytes,
        mime: str,
        on_progress: Callable[[int, int], None],
    ) -> None:
        boundary = f"runway-img-{secrets.token_hex(12)}"
        self.content_type = f"multipart/form-data; boundary={boundary}"
        parts = []
        for name, value in fields.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{safe_name}"\r\nContent-Type: {mime}\r\n\r\n'.encode()
        )
        parts.append(content)
        parts.append(f"\r\n--{boundary}--\r\n".encode())
        self._data = b"".join(parts)
        self._pos = 0
        self._on_progress = on_progress

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(64 * 1024):
            yield chunk

    def seek(self, pos: int) -> None:
        self._pos = pos

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else min(self._pos + size, len(self._data))
        chunk = self._data[self._pos : end]
        self._pos = end
        self._on_progress(self._pos, len(self._data))
        return chunk


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


def _api_error(method: str, label: str, response: requests.Response) -> errors.APIError:
    status = response.status_code
    server_text: str | None = None
    issues: list[errors.Issue] = []
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if isinstance(body.get("error"), str):
            server_text = body["error"]
        for item in body.get("issues") or []:
            if isinstance(item, dict):
                path = tuple(str(p) for p in item.get("path") or [])
                issues.append(
                    errors.Issue(
                        path=path,
                        message=str(item.get("message", "")),
                        code=item.get("code") if isinstance(item.get("code"), str) else None,
                    )
                )
    if server_text:
        message = f"{server_text} (HTTP {status})"
    else:
        message = f"{method} {label} failed with HTTP {status} ({_content_kind(response)})"
    cls = _ERROR_CLASSES.get(status)
    if cls is None:
        cls = errors.ServerError if status >= 500 else errors.APIError
    hint = _HINTS.get(status, _SERVER_HINT if status >= 500 else None)
    if status == 429 and server_text and "daily" in server_text.lower():
        hint = "The limit resets over a rolling 24 hours; try later or raise your tier."
    return cls(message, status_code=status, error=server_text, issues=issues, hint=hint)
