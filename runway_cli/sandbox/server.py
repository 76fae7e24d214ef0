"""The sandbox server: a local, Runway-compatible API over ``http.server``.

``SandboxServer`` is the public face (start, stop, limits, the request log for tests);
``_Handler`` is the HTTP plumbing: it reads a request, asks the fault plan and the route table
(``routes.py``) what to do, and carries out the resulting effect (``effects.py``).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from runway_cli.wire import SANDBOX_HEADER, VERSION_HEADER

from .accounts import Account, AccountLimits
from .catalog_data import ModelRules
from .effects import Answer, Cut, Delay, Drop, Respond, SlowBody
from .faults import FaultPlan, FaultRule
from .lifecycle import Timeline
from .outputs import OutputFiles, file_kind, price, size_for
from .routes import Request, dispatch
from .store import TaskRow, TaskStore

DEFAULT_LOG_LIMIT = 1000


class SandboxStateError(Exception):
    """The sandbox's SQLite file cannot be used."""


def new_key() -> str:
    """A key shaped like Runway's: ``key_`` + 128 hex characters."""
    return "key_" + secrets.token_hex(64)


class SandboxServer:
    """A Runway-compatible API on 127.0.0.1. Run it with ``start()`` (a background thread,
    or ``with SandboxServer(...) as sandbox:``) or ``serve_forever()`` (foreground).

    Keyword arguments:

    - ``host``, ``port``: where to listen (port 0: any free port; see ``base_url``).
    - ``keys``: the API keys it accepts (default: one new key, see ``key``).
    - ``state_path``: SQLite file for tasks and uploads (None: in memory, for tests).
    - ``timeline``: how long tasks stay PENDING, then RUNNING, once they have a slot.
    - ``url_ttl``: seconds an output URL stays valid.
    - ``clock``: the time source for task states, URLs and limits (inject one in tests).
    - ``faults``: fault rules to start with (see ``faults.py``; later: ``self.faults``).
    - ``concurrency``: ``maxConcurrentGenerations`` per model (None: no limit). Tasks
      beyond it sit THROTTLED in a FIFO queue until a slot frees.
    - ``daily_limit``: ``maxDailyGenerations`` per model over a rolling day (None: no
      limit); creates beyond it answer 429.
    - ``credits``: the starting ``creditBalance``; tasks spend their cost, FAILED and
      CANCELLED tasks cost nothing; a create costing more than the balance answers 400.
    - ``log_limit``: how many requests the request log keeps (the newest).
    """

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
        concurrency: int | None = 2,
        daily_limit: int | None = 500,
        credits: int = 10_000,
        log_limit: int = DEFAULT_LOG_LIMIT,
    ) -> None:
        self.keys = set(keys) or {new_key()}
        self.timeline = timeline or Timeline()
        self.clock = clock
        self.limits = AccountLimits(
            concurrency=concurrency, daily_limit=daily_limit, credits=credits
        )
        self.store = TaskStore(state_path, clock=clock)
        self.account = Account(self.store, self.limits, self.timeline, clock)
        self.files = OutputFiles(clock, url_ttl)
        self.faults = FaultPlan(list(faults))
        self._log: deque[dict[str, Any]] = deque(maxlen=log_limit)
        self._log_lock = threading.Lock()
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
        concurrency: int | None = 2,
        daily_limit: int | None = 500,
        credits: int = 10_000,
    ) -> SandboxServer:
        """The sandbox as runway-img runs it: tasks spend 20% PENDING, then 80% RUNNING.

        SandboxStateError when the state file is unusable; ValueError for a bad limit.
        """
        try:
            return cls(
                port=port,
                keys=keys,
                state_path=state_path,
                timeline=Timeline(pending=task_seconds * 0.2, running=task_seconds * 0.8),
                concurrency=concurrency,
                daily_limit=daily_limit,
                credits=credits,
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

    # -- the work -------------------------------------------------------------------------

    def create_task(self, model: ModelRules, body: dict[str, Any]) -> TaskRow:
        """Store a validated create; raises ``accounts.Refused`` over a limit."""
        width, height = size_for(model, body.get("ratio"))
        count = body.get("outputCount") or 1
        credits = price(width, height, count)
        return self.store.create(
            model=model.id,
            body=body,
            width=width,
            height=height,
            outputs=count,
            fmt=file_kind(model, body.get("outputFormat"), (width, height)),
            credits=credits,
            pending=self.timeline.pending,
            running=self.timeline.running,
            slots=self.limits.concurrency,
            admit=self.account.admit(model.id, credits),
        )

    # -- the request log, and helpers for tests --------------------------------------------

    def record(self, entry: dict[str, Any]) -> None:
        with self._log_lock:
            self._log.append(entry)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The request log, oldest first: the last ``log_limit`` requests (a copy)."""
        return self.request_log()

    def request_log(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return list(self._log)

    def count(self, method: str, path_prefix: str) -> int:
        """Logged requests with this method whose path starts with ``path_prefix``."""
        with self._log_lock:
            return sum(
                1 for r in self._log if r["method"] == method and r["path"].startswith(path_prefix)
            )

    def faults_taken(self) -> int:
        return self.faults.taken

    def image_bytes(self, task_id: str, index: int) -> bytes:
        """The exact bytes served for output ``index`` (0-based) of a task."""
        row = self.store.get(task_id)
        if row is None:
            raise KeyError(task_id)
        return self.files.image(row, index)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: SandboxServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-answer are normal here (timeouts, Ctrl-C); stay quiet."""
        exc = sys.exc_info()[1]
        # sqlite3.ProgrammingError: a late request after stop() closed the store
        if not isinstance(exc, ConnectionError | TimeoutError | sqlite3.ProgrammingError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    server_version = "runway-img-sandbox"
    _entry: dict[str, Any] | None = None

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log on the app object is the record."""

    @property
    def app(self) -> SandboxServer:
        return self.server.app

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    # -- one request --------------------------------------------------------------------

    def _handle(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body() if self.command == "POST" else b""
        if body is None:
            self.close_connection = True
            self._carry_out(Respond(400, b'{"error": "Bad Content-Length."}'))
            return
        request = Request(self.command, url.path, parse_qs(url.query), self.headers, body)
        self._entry = self._log_entry(request)
        try:
            self._carry_out(self._answer(request))
        finally:
            self._log("error")  # only if nothing was sent (an exception in a handler)

    def _answer(self, request: Request) -> Answer:
        """The fault plan first (it may answer, drop or delay), then the route table."""
        rule = self.app.faults.take(request.method, request.path)
        early = rule.before() if rule is not None else None
        if isinstance(early, Delay):
            time.sleep(early.seconds)
        elif early is not None:
            return early
        response, faults_after = dispatch(self.app, request)
        if rule is not None and faults_after and response.status == 200:
            return rule.after(response)
        return response

    def _read_body(self) -> bytes | None:
        """The request body, or None when Content-Length is unusable."""
        raw = self.headers.get("Content-Length") or "0"
        if not raw.isascii() or not raw.isdigit():
            return None
        length = int(raw)
        return self.rfile.read(length) if length else b""

    def _log_entry(self, request: Request) -> dict[str, Any]:
        """What the request log keeps: never the key itself."""
        parsed: Any = None
        if request.body and request.path.startswith("/v1/"):
            try:
                parsed = json.loads(request.body)
            except (ValueError, RecursionError):
                parsed = None
        return {
            "method": request.method,
            "path": request.path,
            "time": self.app.clock(),
            "range": self.headers.get("Range"),
            "authorized": self.headers.get("Authorization") is not None,
            "version": self.headers.get(VERSION_HEADER),
            "user_agent": self.headers.get("User-Agent"),
            "accept_encoding": self.headers.get("Accept-Encoding"),
            "json": parsed,
        }

    def _log(self, status: int | str) -> None:
        """Record the request once, *before* answering: a client that has its answer can
        count on the log already holding the request."""
        if self._entry is not None:
            self._entry["status"] = status
            self.app.record(self._entry)
            self._entry = None

    # -- carrying out effects -------------------------------------------------------------

    def _carry_out(self, effect: Answer) -> None:
        if isinstance(effect, Drop):
            self._log("dropped")
            self._drop()
        elif isinstance(effect, Cut):
            body = effect.response.body
            self._start(effect.response, len(body))
            self._write(body[: int(len(body) * effect.fraction)])
            self._drop()
        elif isinstance(effect, SlowBody):
            self._send_slowly(effect)
        else:
            self._send(self._with_range(effect))

    def _with_range(self, response: Respond) -> Respond:
        """An output file asked for from byte N on (``Range: bytes=N-``): 206 with the rest."""
        header = self.headers.get("Range")
        if not response.output_file or response.ignore_range or not header:
            return response
        spec = header.strip()
        size = len(response.body)
        if not spec.startswith("bytes=") or not spec.endswith("-"):
            return response
        start = spec[len("bytes=") : -1]
        if not start.isascii() or not start.isdigit() or not 0 < int(start) < size:
            return response
        offset = int(start)
        headers = {**response.headers, "Content-Range": f"bytes {offset}-{size - 1}/{size}"}
        return Respond(206, response.body[offset:], response.content_type, headers)

    def _start(self, response: Respond, length: int) -> None:
        """Log the request, then send the status line and headers."""
        self._log(response.status)
        self.send_response(response.status)
        self.send_header(SANDBOX_HEADER, "1")
        if response.body or response.status != 204:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(length))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, response: Respond) -> None:
        self._start(response, len(response.body))
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    def _send_slowly(self, effect: SlowBody) -> None:
        body = effect.response.body
        self._start(effect.response, len(body))
        step = max(1, -(-len(body) // effect.pieces))
        for i in range(0, len(body), step):
            if not self._write(body[i : i + step]):
                return
            time.sleep(effect.pause)

    def _write(self, data: bytes) -> bool:
        """Send bytes now; False (and the connection closed) when the client went away."""
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self._drop()
            return False
        return True

    def _drop(self) -> None:
        """Close the connection without (the rest of) an answer."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(2)
        except OSError:
            pass
