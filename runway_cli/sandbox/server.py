"""A local, Runway-compatible HTTP server built on ``http.server``.

Same paths under ``/v1``, Bearer-key and version-header checks, the live API's 400 shape,
a task timeline (PENDING -> RUNNING with progress -> SUCCEEDED) with real PNG outputs served
from signed, expiring URLs, plus test hooks under ``/_sandbox``: the request log and fault
injection (see ``faults.py``).
"""

from __future__ import annotations

import email.policy
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.parser import BytesParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from runway_cli.catalog import Model, parse_ratio
from runway_cli.client import SANDBOX_HEADER
from runway_cli.sandbox.faults import FaultPlan, FaultRule
from runway_cli.sandbox.images import make_jpeg, make_png, make_svg
from runway_cli.sandbox.store import TaskRow, TaskStore, Timeline, status_of
from runway_cli.sandbox.validate import validate_body

API_VERSION = "2024-11-06"
DOC_URL = "https://docs.dev.runwayml.com/api"
_TASK_PATH = re.compile(r"^/v1/tasks/([^/]+)$")
_FILE_PATH = re.compile(r"^/_sandbox/files/([0-9a-f-]{36})/(\d+)\.(png|jpg|webp|svg)$")
_FALLBACK_SIZE = (1024, 1024)
_CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "svg": "image/svg+xml",
}


class SandboxStateError(Exception):
    """The sandbox's SQLite file cannot be used."""


def new_key() -> str:
    """A key shaped like Runway's: ``key_`` + 128 hex characters."""
    return "key_" + secrets.token_hex(64)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


_AUTO_SIZES = {"auto": (1024, 1024), "auto_1k": (1024, 1024), "auto_2k": (2048, 2048)}
_JPEG_MAX_SIDE = 65535


def _size_for(model: Model, ratio: str | None) -> tuple[int, int]:
    size = parse_ratio(ratio) if ratio else None
    if size is not None:
        return size
    if ratio in _AUTO_SIZES:
        return _AUTO_SIZES[ratio]
    for value in model.ratio.values:
        size = parse_ratio(value)
        if size is not None:
            return size
    return _FALLBACK_SIZE


def _file_kind(model: Model, requested: str | None, size: tuple[int, int]) -> str:
    """What the sandbox serves: SVG for vector models, real JPEG when asked, else PNG.

    WebP is served as PNG: writing WebP needs an encoder we do not want as a dependency.
    JPEG cannot describe a side over 65535 pixels, so such images are PNG too.
    """
    if model.output_kind == "vector":
        return "svg"
    fmt = requested or model.default_output_format
    if fmt == "jpeg" and max(size) <= _JPEG_MAX_SIDE:
        return "jpg"
    return "png"


def _credits(width: int, height: int, outputs: int) -> float:
    per_image = 5 if width * height <= 1_500_000 else 8
    return float(per_image * outputs)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: SandboxServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-answer are normal here (timeouts, Ctrl-C); stay quiet."""
        import sys

        exc = sys.exc_info()[1]
        # sqlite3.ProgrammingError: a late request after stop() closed the store
        if not isinstance(exc, ConnectionError | TimeoutError | sqlite3.ProgrammingError):
            super().handle_error(request, client_address)


class SandboxServer:
    """Run with ``start()`` (background thread) or ``serve_forever()`` (foreground)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keys: Iterable[str] = (),
        state_path: Path | None = None,
        timeline: Timeline | None = None,
        url_ttl: float = 3600.0,
        clock: Callable[[], float] = time.time,
        faults: Iterable[FaultRule] = (),
    ) -> None:
        self.keys = set(keys) or {new_key()}
        self.timeline = timeline or Timeline()
        self.url_ttl = url_ttl
        self.clock = clock
        self.store = TaskStore(state_path, clock=clock)
        self.faults = FaultPlan(list(faults))
        self.requests: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()
        self._secret = secrets.token_bytes(32)
        self._images: dict[tuple[str, int], bytes] = {}
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.app = self
        self._thread: threading.Thread | None = None

    @classmethod
    def for_cli(
        cls,
        *,
        task_seconds: float,
        state_path: Path,
        port: int = 0,
        keys: Iterable[str] = (),
    ) -> SandboxServer:
        """The sandbox as runway-img runs it: tasks spend 20% PENDING, then 80% RUNNING."""
        try:
            return cls(
                port=port,
                keys=keys,
                state_path=state_path,
                timeline=Timeline(pending=task_seconds * 0.2, running=task_seconds * 0.8),
            )
        except sqlite3.DatabaseError as exc:
            raise SandboxStateError(
                f"The sandbox state file {state_path} is unusable ({exc}); delete it to start over."
            ) from None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def key(self) -> str:
        return sorted(self.keys)[0]

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # quick shutdown() for tests and in-process runs
            name="runway-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
        self.store.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for tests ----------------------------------------------------------------

    def record(self, entry: dict[str, Any]) -> None:
        with self._log_lock:
            self.requests.append(entry)

    def faults_taken(self) -> int:
        return self.faults.taken

    def request_log(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return list(self.requests)

    def count(self, method: str, path_prefix: str) -> int:
        with self._log_lock:
            return sum(
                1
                for r in self.requests
                if r["method"] == method and r["path"].startswith(path_prefix)
            )

    def image_bytes(self, task_id: str, index: int) -> bytes:
        """The exact bytes served for output ``index`` (0-based) of a task."""
        row = self.store.get(task_id)
        if row is None:
            raise KeyError(task_id)
        return self.image(row, index)

    # -- task views -----------------------------------------------------------------------

    def task_json(self, row: TaskRow) -> dict[str, Any]:
        status, progress = status_of(row, self.clock(), self.timeline)
        body: dict[str, Any] = {"id": row.id, "createdAt": _iso(row.created), "status": status}
        if status in ("PENDING", "THROTTLED", "RUNNING"):
            body["estimatedCost"] = {"credits": row.credits}
            if status == "RUNNING":
                body["progress"] = progress
        elif status == "SUCCEEDED":
            count = 0 if row.behaviour == "no-output" else row.outputs
            body["output"] = [self.file_url(row, i) for i in range(count)]
            body["cost"] = {"credits": row.credits}
        elif status == "FAILED":
            body["failure"] = "The sandbox failed this task because the prompt asked it to."
            body["failureCode"] = "INTERNAL.BAD_OUTPUT.CODE01"
            body["cost"] = {"credits": 0}
        else:
            body["cost"] = {"credits": 0}
        return body

    def file_url(self, row: TaskRow, index: int) -> str:
        expires = int(self.clock() + self.url_ttl)
        path = f"/_sandbox/files/{row.id}/{index}.{row.format}"
        return f"{self.base_url}{path}?expires={expires}&sig={self.sign(path, expires)}"

    def sign(self, path: str, expires: int) -> str:
        return hmac.new(self._secret, f"{path}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def check_signature(self, path: str, query: dict[str, list[str]]) -> bool:
        try:
            expires = int(query["expires"][0])
            sig = query["sig"][0]
        except (KeyError, IndexError, ValueError):
            return False
        if expires < self.clock():
            return False
        return hmac.compare_digest(sig, self.sign(path, expires))

    def image(self, row: TaskRow, index: int) -> bytes:
        key = (row.id, index)
        data = self._images.get(key)
        if data is None:
            maker = {"svg": make_svg, "jpg": make_jpeg}.get(row.format, make_png)
            data = maker(
                f"{row.body.get('promptText', '')}|{row.id}|{index}", row.width, row.height
            )
            if len(self._images) > 32:
                self._images.clear()
            self._images[key] = data
        return data

    def create(self, model: Model, body: dict[str, Any]) -> TaskRow:
        width, height = _size_for(model, body.get("ratio"))
        count = body.get("outputCount") or 1
        return self.store.create(
            model=model.id,
            body=body,
            width=width,
            height=height,
            outputs=count,
            fmt=_file_kind(model, body.get("outputFormat"), (width, height)),
            credits=_credits(width, height, count),
        )

    def organization(self) -> dict[str, Any]:
        from runway_cli.catalog import all_models

        daily = self.store.daily_counts()
        return {
            "creditBalance": max(0.0, 10_000 - self.store.credits_spent()),
            "tier": {
                "maxMonthlyCreditSpend": 100_000,
                "models": {
                    m: {"maxConcurrentGenerations": 2, "maxDailyGenerations": 500}
                    for m in all_models()
                },
            },
            "usage": {"models": {m: {"dailyGenerations": n} for m, n in daily.items()}},
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    server_version = "runway-img-sandbox"
    _entry: dict[str, Any] | None = None

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log on the app object is the record."""

    # -- plumbing -------------------------------------------------------------------------

    @property
    def app(self) -> SandboxServer:
        return self.server.app

    def _read_body(self) -> bytes | None:
        """The request body, or None when Content-Length is unusable."""
        raw = self.headers.get("Content-Length") or "0"
        if not raw.isascii() or not raw.isdigit():
            return None
        length = int(raw)
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self._log(status)
        self.send_response(status)
        self.send_header(SANDBOX_HEADER, "1")
        if body or status != 204:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers=headers)

    def _error(self, status: int, message: str, **extra: Any) -> None:
        self._json(status, {"error": message, **extra})

    def _drop(self) -> None:
        """Close the connection without an answer."""
        self.close_connection = True
        self._log("dropped")
        try:
            self.wfile.flush()
            self.connection.shutdown(2)
        except OSError:
            pass

    def _log(self, status: int | str) -> None:
        """Record the request once, *before* answering: a client that has its answer can
        count on the log already holding the request."""
        if self._entry is not None:
            self._entry["status"] = status
            self.app.record(self._entry)
            self._entry = None

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body() if self.command == "POST" else b""
        if body is None:
            self.close_connection = True
            self._entry = None
            self._send(400, b'{"error": "Bad Content-Length."}')
            return
        entry: dict[str, Any] = {
            "method": self.command,
            "path": url.path,
            "time": self.app.clock(),
            "range": self.headers.get("Range"),
            "authorized": self.headers.get("Authorization") is not None,
            "version": self.headers.get("X-Runway-Version"),
            "user_agent": self.headers.get("User-Agent"),
            "accept_encoding": self.headers.get("Accept-Encoding"),
        }
        try:
            entry["json"] = json.loads(body) if body and url.path.startswith("/v1/") else None
        except ValueError:
            entry["json"] = None
        self._entry = entry
        rule = self.app.faults.take(self.command, url.path)
        try:
            if rule is not None and rule.before(self):
                return
            self._route(url.path, parse_qs(url.query), body, rule)
        finally:
            self._log("error")  # only if nothing was sent (an exception in a handler)

    # -- routes ---------------------------------------------------------------------------

    def _route(
        self, path: str, query: dict[str, list[str]], body: bytes, rule: FaultRule | None
    ) -> None:
        if path.startswith("/_sandbox/"):
            self._control(path, query, body, rule)
            return
        if not path.startswith("/v1/"):
            self._error(404, "Not found.")
            return
        if not self._authorized():
            return
        match = _TASK_PATH.match(path)
        if path == "/v1/text_to_image":
            if self.command != "POST":
                self._error(405, "Method not allowed.")
                return
            self._create(body, rule)
        elif match:
            self._task(match.group(1), rule)
        elif path == "/v1/uploads" and self.command == "POST":
            self._create_upload(body, rule)
        elif path == "/v1/organization" and self.command == "GET":
            self._respond(rule, 200, self.app.organization())
        else:
            self._error(404, "Not found.")

    def _respond(self, rule: FaultRule | None, status: int, data: Any) -> None:
        if rule is not None and rule.after(self):
            return
        self._json(status, data)

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme != "Bearer" or token not in self.app.keys:
            self._error(401, "Invalid API key. Check the Authorization header.")
            return False
        version = self.headers.get("X-Runway-Version")
        if version is None:
            self._error(400, "The X-Runway-Version header is required.", docUrl=DOC_URL)
            return False
        if version != API_VERSION:
            self._error(400, f"Unsupported X-Runway-Version: {version}.", docUrl=DOC_URL)
            return False
        return True

    def _create(self, raw: bytes, rule: FaultRule | None) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            self._error(400, "Request body is not valid JSON.", docUrl=DOC_URL)
            return
        model, issues = validate_body(body, known_upload=self._known_upload)
        if issues or model is None:
            self._error(400, "Validation of body failed", issues=issues, docUrl=DOC_URL)
            return
        row = self.app.create(model, body)
        self._respond(rule, 200, {"id": row.id, "estimatedCost": {"credits": row.credits}})

    def _known_upload(self, uri: str) -> bool:
        prefix = "runway://sandbox/uploads/"
        return uri.startswith(prefix) and self.app.store.upload_ready(uri[len(prefix) :])

    def _create_upload(self, raw: bytes, rule: FaultRule | None) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            self._error(400, "Request body is not valid JSON.", docUrl=DOC_URL)
            return
        issues = []
        filename = body.get("filename") if isinstance(body, dict) else None
        if not isinstance(filename, str) or not 3 <= len(filename) <= 255:
            issues.append({"code": "invalid_type", "path": ["filename"], "message": "Required"})
        elif not re.search(r"\.(png|jpe?g|webp|gif|mp4|mov|webm|mp3|wav)$", filename, re.I):
            issues.append(
                {"code": "custom", "path": ["filename"], "message": "Unsupported file extension"}
            )
        if not isinstance(body, dict) or body.get("type") != "ephemeral":
            issues.append(
                {
                    "code": "invalid_enum_value",
                    "path": ["type"],
                    "message": "Invalid enum value. Expected 'ephemeral'",
                }
            )
        if issues:
            self._error(400, "Validation of body failed", issues=issues, docUrl=DOC_URL)
            return
        upload_id = self.app.store.create_upload(str(filename))
        self._respond(
            rule,
            200,
            {
                "uploadUrl": f"{self.app.base_url}/_sandbox/uploads/{upload_id}",
                "fields": {
                    "key": f"uploads/{upload_id}/{filename}",
                    "policy": self.app.sign(f"upload|{upload_id}", 0),
                },
                "runwayUri": f"runway://sandbox/uploads/{upload_id}",
            },
        )

    def _receive_upload(self, upload_id: str, raw: bytes) -> None:
        """The storage side of an upload: multipart/form-data with the fields, then the file."""
        fields, file_bytes = _parse_multipart(self.headers.get("Content-Type", ""), raw)
        if fields.get("policy") != self.app.sign(f"upload|{upload_id}", 0):
            self._send(403, b"<Error><Code>AccessDenied</Code></Error>", "application/xml")
            return
        kind = None
        if file_bytes is not None:
            head = file_bytes[:16]
            if head.startswith(b"\x89PNG"):
                kind = "png"
            elif head.startswith(b"\xff\xd8\xff"):
                kind = "jpeg"
            elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
                kind = "webp"
        if kind is None or file_bytes is None:
            self._send(400, b"<Error><Code>InvalidArgument</Code></Error>", "application/xml")
            return
        if not self.app.store.complete_upload(upload_id, len(file_bytes), kind):
            self._send(404, b"<Error><Code>NoSuchUpload</Code></Error>", "application/xml")
            return
        self._send(204)

    def _task(self, task_id: str, rule: FaultRule | None) -> None:
        row = self.app.store.get(task_id)
        if row is None or row.deleted:
            self._error(404, "Could not find Task")
            return
        if self.command == "GET":
            self._respond(rule, 200, self.app.task_json(row))
        elif self.command == "DELETE":
            status, _ = status_of(row, self.app.clock(), self.app.timeline)
            if status in ("PENDING", "THROTTLED", "RUNNING"):
                self.app.store.cancel(task_id)
            else:
                self.app.store.delete(task_id)
            self._send(204)
        else:
            self._error(405, "Method not allowed.")

    def _control(
        self, path: str, query: dict[str, list[str]], body: bytes, rule: FaultRule | None
    ) -> None:
        match = _FILE_PATH.match(path)
        if match and self.command == "GET":
            self._file(path, match, query, rule)
        elif path.startswith("/_sandbox/uploads/") and self.command == "POST":
            self._receive_upload(path.rsplit("/", 1)[1], body)
        elif path == "/_sandbox/requests" and self.command == "GET":
            self._json(200, self.app.request_log())
        elif path == "/_sandbox/faults" and self.command == "POST":
            try:
                rules = [FaultRule.from_dict(item) for item in json.loads(body or b"[]")]
            except (ValueError, TypeError, KeyError) as exc:
                self._error(400, f"Bad fault list: {exc}")
                return
            self.app.faults.replace(rules)
            self._json(200, {"faults": len(rules)})
        else:
            self._error(404, "Not found.")

    def _file(
        self,
        path: str,
        match: re.Match[str],
        query: dict[str, list[str]],
        rule: FaultRule | None,
    ) -> None:
        if not self.app.check_signature(path, query):
            self._send(
                HTTPStatus.FORBIDDEN,
                b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                "application/xml",
            )
            return
        row = self.app.store.get(match.group(1))
        index = int(match.group(2))
        if row is None or row.deleted or index >= row.outputs:
            self._send(
                HTTPStatus.NOT_FOUND, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml"
            )
            return
        data = self.app.image(row, index)
        ctype = _CONTENT_TYPES[match.group(3)]
        if rule is not None and rule.serve_file(self, data, ctype):
            return
        start = _range_start(self.headers.get("Range"), len(data))
        if start is None:
            self._send(200, data, ctype, {"Accept-Ranges": "bytes"})
        else:
            self._send(
                206,
                data[start:],
                ctype,
                {
                    "Accept-Ranges": "bytes",
                    "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}",
                },
            )


def _parse_multipart(content_type: str, raw: bytes) -> tuple[dict[str, str], bytes | None]:
    """Form fields and the ``file`` part of a multipart/form-data body (stdlib email parser)."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    fields: dict[str, str] = {}
    file_bytes: bytes | None = None
    if not message.is_multipart():
        return fields, None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        if name == "file":
            file_bytes = payload
        else:
            fields[name] = payload.decode("utf-8", "replace")
    return fields, file_bytes


def _range_start(header: str | None, size: int) -> int | None:
    if not header:
        return None
    m = re.fullmatch(r"bytes=(\d+)-", header.strip())
    if not m:
        return None
    start = int(m.group(1))
    return start if 0 < start < size else None
