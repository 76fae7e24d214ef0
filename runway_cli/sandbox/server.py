"""The sandbox server: a local, Runway-compatible API over ``http.server``.

``SandboxServer`` is the public face (start, stop, limits, the request log for tests); the
HTTP plumbing that reads requests and carries out effects is in ``plumbing.py``.
"""

from __future__ import annotations

import ipaddress
import secrets
import sqlite3
import ssl
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .accounts import Account, AccountLimits
from .catalog_data import ModelRules
from .faults import FaultPlan, FaultRule
from .guards import LOOPBACK_NAMES, allowed_hosts
from .lifecycle import Timeline
from .outputs import OutputFiles, file_kind, price, size_for
from .plumbing import HTTPServer
from .store import TaskRow, TaskStore

DEFAULT_LOG_LIMIT = 1000
DEFAULT_LOG_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_CONNECTIONS = 256
DEFAULT_IDLE_TIMEOUT = 60.0
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104


class SandboxStateError(Exception):
    """The sandbox's SQLite file cannot be used."""


class RemoteSandboxWarning(UserWarning):
    """The sandbox listens beyond this machine (``allow_remote=True``)."""


def new_key() -> str:
    """A key shaped like Runway's: ``key_`` + 128 hex characters."""
    return "key_" + secrets.token_hex(64)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_keys(keys: set[str]) -> set[str]:
    for key in keys:
        if not isinstance(key, str) or not key or not key.isascii() or not key.isprintable():
            raise ValueError("each key must be non-empty printable ASCII")
        if " " in key:
            raise ValueError("a key cannot contain spaces")
    return keys


class RequestLog:
    """The newest requests, bounded both in number and in the body bytes they hold."""

    def __init__(self, limit: int, max_bytes: int) -> None:
        if limit < 1 or max_bytes < 0:
            raise ValueError("log_limit must be >= 1 and log_bytes >= 0")
        self._entries: deque[dict[str, Any]] = deque()
        self._limit = limit
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()

    def append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)
            self._bytes += entry.get("bytes", 0)
            while len(self._entries) > self._limit or (
                self._bytes > self._max_bytes and len(self._entries) > 1
            ):
                self._bytes -= self._entries.popleft().get("bytes", 0)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)


class SandboxServer:
    """A Runway-compatible API on 127.0.0.1. Run it with ``start()`` (a background thread,
    or ``with SandboxServer(...) as sandbox:``) or ``serve_forever()`` (foreground).
    ``runway_cli.sandbox.Sandbox`` is the same server with a friendlier constructor.

    Keyword arguments:

    - ``host``, ``port``: where to listen (port 0: any free port; see ``base_url``). Only
      loopback addresses unless ``allow_remote=True`` (then with a ``RemoteSandboxWarning``,
      and any ``Host`` header is answered: the key is the only defence left).
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
      The balance and the daily cap count this run's tasks only (see ``accounts.py``).
    - ``log_limit``, ``log_bytes``: the request log keeps the newest requests, at most this
      many and (beyond the newest one) at most this many body bytes.
    - ``ssl_context``: serve HTTPS with this server-side context (``base_url`` says https).
    - ``max_connections``: open connections at once; one more gets a 503 and is closed.
    - ``idle_timeout``: seconds a connection may sit idle or half-sent before it is closed.
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
        log_bytes: int = DEFAULT_LOG_BYTES,
        ssl_context: ssl.SSLContext | None = None,
        allow_remote: bool = False,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self._check_network(host, allow_remote, max_connections, idle_timeout)
        self.keys = _check_keys(set(keys)) or {new_key()}
        self.timeline = timeline or Timeline()
        self.clock = clock
        self.limits = AccountLimits(
            concurrency=concurrency, daily_limit=daily_limit, credits=credits
        )
        self._log = RequestLog(log_limit, log_bytes)
        self.faults = FaultPlan(list(faults))
        self.allow_remote = allow_remote
        self.scheme = "https" if ssl_context is not None else "http"
        self.store = TaskStore(state_path, clock=clock)
        self.account = Account(self.store, self.limits, self.timeline, clock)
        self.files = OutputFiles(clock, url_ttl)
        try:
            self._httpd = HTTPServer(
                (host, port),
                self,
                ssl_context=ssl_context,
                max_connections=max_connections,
                idle_timeout=idle_timeout,
            )
        except BaseException:
            self.store.close()
            raise
        default_port = 443 if ssl_context is not None else 80
        names = (*LOOPBACK_NAMES, self._url_host)
        self.allowed_hosts = None if allow_remote else allowed_hosts(names, self.port, default_port)
        self._thread: threading.Thread | None = None

    @staticmethod
    def _check_network(
        host: str, allow_remote: bool, max_connections: int, idle_timeout: float
    ) -> None:
        if not _is_loopback(host):
            if not allow_remote:
                raise ValueError(
                    f"host={host!r} would expose the sandbox beyond this machine; use a "
                    "loopback address, or pass allow_remote=True if you really mean it."
                )
            warnings.warn(
                f"The sandbox listens on {host!r}: anyone who can reach it and has the key can "
                "use it.",
                RemoteSandboxWarning,
                stacklevel=3,
            )
        if not isinstance(max_connections, int) or max_connections < 1:
            raise ValueError("max_connections must be a whole number >= 1")
        if not 0 < idle_timeout < float("inf"):
            raise ValueError("idle_timeout must be a positive number of seconds")

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

        Its account starts afresh each run (see ``accounts.py``): ``runway-img --sandbox``
        starts one per command over the same state file, and must never inherit a spent
        balance. SandboxStateError when the state file is unusable; ValueError for a bad limit.
        """
        try:
            return cls(
                port=port,
                keys=keys,
                state_path=state_path,
                timeline=Timeline.of_task(task_seconds),
                concurrency=concurrency,
                daily_limit=daily_limit,
                credits=credits,
            )
        except sqlite3.DatabaseError as exc:
            if state_path is not None and state_path.exists() and not state_path.is_file():
                raise SandboxStateError(
                    f"The sandbox state file {state_path} is not a file ({exc}); "
                    "give --state a file path (it is created if missing)."
                ) from None
            raise SandboxStateError(
                f"The sandbox state file {state_path} is unusable ({exc}); delete it to start over."
            ) from None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def _url_host(self) -> str:
        host = str(self._httpd.server_address[0])
        host = _ANY_ADDRESS.get(host, host)
        return f"[{host}]" if ":" in host else host

    @property
    def port(self) -> int:
        return self._httpd.port

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self._url_host}:{self.port}"

    @property
    def key(self) -> str:
        return sorted(self.keys)[0]

    @property
    def open_connections(self) -> int:
        """Connections open right now (each has a thread)."""
        return self._httpd.open_connections

    @property
    def stopping(self) -> threading.Event:
        return self._httpd.stopping

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
        """Stop serving: close every connection (kept-alive ones too), wait for their
        threads, close the listening socket and the store. Safe to call twice."""
        self._httpd.stopping.set()  # wakes delays and slow bodies at once
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.close_connections()
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
        self._log.append(entry)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The request log, oldest first: the last ``log_limit`` requests (a copy)."""
        return self.request_log()

    def request_log(self) -> list[dict[str, Any]]:
        """Each entry: ``method``, ``path``, ``status`` (or ``dropped``/``error``), ``time``,
        ``json`` (an API body, parsed; None for a refused or non-JSON one), ``bytes`` (the
        body's size), ``authorized`` (an Authorization header was sent; never its value),
        ``version``, ``range``, ``user_agent``, ``accept_encoding``."""
        return self._log.entries()

    def count(self, method: str, path_prefix: str) -> int:
        """Logged requests with this method whose path starts with ``path_prefix``."""
        return sum(
            1
            for r in self._log.entries()
            if r["method"] == method and r["path"].startswith(path_prefix)
        )

    def faults_taken(self) -> int:
        return self.faults.taken

    def image_bytes(self, task_id: str, index: int) -> bytes:
        """The exact bytes served for output ``index`` (0-based) of a task."""
        row = self.store.get(task_id)
        if row is None:
            raise KeyError(task_id)
        return self.files.image(row, index)
