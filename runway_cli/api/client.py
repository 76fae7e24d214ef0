"""HTTP client for the Runway API. Uses requests only; raises typed errors; never prints.

One ``requests.Session`` carries the auth and version headers to the API. Output files are
fetched with a second, header-free session, so the API key never goes to the file host.
Answers are parsed once, here, into typed results (``api.types``). Requests are logged to the
``runway_cli.http`` logger (method, path, status, ms, retries); the key is never logged.

Every request goes through one loop: *attempt* (send once), *classify* (success, or a typed
error and whether another attempt is safe), *decide* (``RetryPolicy.decide``: wait or give up).
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from runway_cli import __version__, errors
from runway_cli.api.classify import (
    AMBIGUOUS_HINT,
    Verdict,
    classify_failure,
    classify_status,
    content_kind,
    describe,
)
from runway_cli.api.retry import (
    RetryPolicy,
)
from runway_cli.api.types import CreatedTask, Organization, RetryEvent, Task, Upload
from runway_cli.wire import API_VERSION, SANDBOX_HEADER, VERSION_HEADER

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
DOWNLOAD_READ_TIMEOUT = 60.0

log = logging.getLogger("runway_cli.http")

_BAD_URL_ERRORS = (  # raised before anything is sent
    requests.exceptions.InvalidJSONError,
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
)


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
        ca_bundle: str | None = None,
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
        if ca_bundle:  # SSL_CERT_FILE too (requests alone reads only REQUESTS_CA_BUNDLE)
            self.session.verify = self.files.verify = ca_bundle

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
                hint=AMBIGUOUS_HINT,
            ) from exc
        task_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(task_id, str) or not _is_uuid(task_id):
            raise errors.AmbiguousCreateError(
                "Runway accepted the create request but its answer has no usable task id: "
                "the task may have been created and cannot be followed from here.",
                hint=AMBIGUOUS_HINT,
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

    def get_task(self, task_id: str, *, once: bool = False) -> Task:
        """The task now. ``once``: a single attempt (a wait retries by polling again)."""
        data = self._call("GET", f"/v1/tasks/{task_id}", once=once)
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

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        is_create: bool = False,
        once: bool = False,
    ) -> Any:
        response = self._send(
            self.session,
            method,
            self.base_url + path,
            label=path,
            json=json,
            is_create=is_create,
            once=once,
            timeout=(CONNECT_TIMEOUT, self.read_timeout),
        )
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except (ValueError, RecursionError):
            raise errors.InvalidResponseError(
                f"{method} {path} answered HTTP {response.status_code} with something that is "
                f"not JSON ({content_kind(response)}).",
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
        once: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        policy = replace(self.retry, max_attempts=1) if once else self.retry
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            verdict = self._attempt(session, method, url, label, is_create, kwargs)
            if verdict.response is not None:
                return verdict.response
            assert verdict.error is not None
            wait = policy.decide(
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
    ) -> Verdict:
        """Send once and classify what came back."""
        t0 = self._clock()
        if url.startswith("http://"):
            # Plain http is only allowed to this machine (a sandbox): never through a proxy,
            # which would see the key in the clear. https goes through CONNECT, encrypted.
            kwargs = {**kwargs, "proxies": {"http": None, "all": None}}
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
            return classify_failure(exc, url, is_create)
        log.info("%s %s -> %d (%d ms)", method, label, response.status_code, _ms(t0, self._clock()))
        if self.on_sandbox is not None and response.headers.get(SANDBOX_HEADER):
            notify, self.on_sandbox = self.on_sandbox, None
            notify(self.base_url)
        if response.status_code < 400:
            return Verdict(response=response)
        return classify_status(
            method, label, response, is_create=is_create, from_api=session is self.session
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
