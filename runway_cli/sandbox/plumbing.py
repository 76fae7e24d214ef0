"""The sandbox's HTTP plumbing over ``http.server``: connections, bodies, and effects.

``HTTPServer`` owns the listening socket and every open connection: a listen queue of 128 (the
standard 5 resets connections under parallel tests), a cap on open connections (503 beyond
it), a socket timeout (idle or half-sent connections are closed), optional TLS (the handshake
runs in the connection's own thread, never in the accept loop), and a ``stop`` that closes
kept-alive connections and joins their threads.

``Handler`` reads one request: the checks on its line and headers first (``guards.py``), then
the body (by ``Content-Length``, or decoded from chunks; capped), then asks the fault plan and
the route table (``routes.py``) what to do and carries out the effect (``effects.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import socketserver
import sqlite3
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from runway_cli.wire import SANDBOX_HEADER, VERSION_HEADER

from . import guards
from .effects import Answer, Cut, Delay, Drop, Respond, SlowBody, error
from .routes import Request, dispatch

if TYPE_CHECKING:
    from .server import SandboxServer

_FULL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Content-Length: 46\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    b'{"error": "Too many open connections; retry."}'
)
_CHUNK_LINE = 1024  # a chunk-size line (with extensions) or a trailer line longer than this: 400
_MAX_TRAILERS = 64


@dataclasses.dataclass
class _Open:
    """One open connection: its socket (the TLS one once wrapped) and its thread."""

    sock: socket.socket
    thread: threading.Thread | None = None


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        app: SandboxServer,
        *,
        ssl_context: ssl.SSLContext | None,
        max_connections: int,
        idle_timeout: float,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app = app
        self.ssl_context = ssl_context
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._open: dict[int, _Open] = {}
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        """Bind without ``http.server``'s reverse DNS lookup of the host (slow, and unused)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def shutdown(self) -> None:
        """Stop ``serve_forever`` now, not at its next poll: ask, then wake its ``select()``
        with a connection (refused at once: ``stopping`` is set). Tests start and stop a
        sandbox each; 50 ms apiece adds up."""
        asker = threading.Thread(target=super().shutdown, name="runway-sandbox-stop")
        asker.start()
        while asker.is_alive():
            self._wake()
            asker.join(0.05)

    def _wake(self) -> None:
        host = str(self.server_address[0])
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
        with contextlib.suppress(OSError), socket.create_connection((host, self.port), 1):
            pass

    # -- connections ------------------------------------------------------------------------

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            full = self.stopping.is_set() or len(self._open) >= self.max_connections
            entry = None if full else self._open.setdefault(id(request), _Open(request))
        if entry is None:
            self._refuse(request)
            return
        entry.thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="runway-sandbox-connection",
            daemon=True,
        )
        entry.thread.start()

    def _refuse(self, request: socket.socket) -> None:
        """Over the connection cap: a short 503 (plain http only), then close."""
        if self.ssl_context is None:
            try:
                request.settimeout(1.0)
                request.sendall(_FULL)
            except OSError:
                pass
        self.shutdown_request(request)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(self.idle_timeout)
        if self.ssl_context is None:
            Handler(request, client_address, self)
            return
        try:  # the handshake, bounded by the timeout; a failure closes the socket
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            return
        with self._lock:
            entry = self._open.get(id(request))
            if entry is not None:
                entry.sock = tls
        try:
            Handler(tls, client_address, self)
        finally:
            tls.close()

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self._lock:
            self._open.pop(id(request), None)

    def close_connections(self, timeout: float = 5.0) -> None:
        """Stop taking requests, close every open connection and wait for its thread."""
        self.stopping.set()
        with self._lock:
            entries = list(self._open.values())
        for entry in entries:
            # the plain socket call, even under TLS: wakes a thread blocked reading
            with contextlib.suppress(OSError, ValueError):
                socket.socket.shutdown(entry.sock, socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for entry in entries:
            if entry.thread is not None:
                entry.thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-answer are normal (timeouts, Ctrl-C, stop()): stay quiet."""
        exc = sys.exc_info()[1]
        # sqlite3.ProgrammingError: a late request after stop() closed the store
        if isinstance(exc, OSError | sqlite3.ProgrammingError):
            return
        if isinstance(exc, ValueError) and self.stopping.is_set():
            return  # I/O on a file closed under it by stop()
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Answers go out as headers, then body: with Nagle's algorithm the second write waits for
    # the client's delayed ACK, about 40 ms per request on a kept-alive connection.
    disable_nagle_algorithm = True
    server: HTTPServer
    server_version = "runway-img-sandbox"
    _entry: dict[str, Any] | None = None

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log on the app object is the record."""

    def handle_expect_100(self) -> bool:
        """``100 Continue`` is sent only once the checks passed (``_read_body``)."""
        return True

    def handle_one_request(self) -> None:
        super().handle_one_request()
        if self.server.stopping.is_set():
            self.close_connection = True

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
        request = Request(self.command, url.path, parse_qs(url.query), self.headers, b"")
        refusal, frame = self._check(request.path)
        if refusal is not None or frame is None:
            self._entry = self._log_entry(request)
            self._refuse(refusal or error(400, "Bad request."), frame)
            return
        body = self._read_body(frame, request.path)
        if isinstance(body, Respond):
            self.close_connection = True  # the rest of the stream cannot be trusted
            self._entry = self._log_entry(request)
            self._send(body)
            return
        request = dataclasses.replace(request, body=body)
        self._entry = self._log_entry(request)
        try:
            self._carry_out(self._answer(request))
        finally:
            self._log("error")  # only if nothing was sent (an exception in a handler)

    def _check(self, path: str) -> tuple[Respond | None, guards.Framing | None]:
        """A refusal decided from the request line and headers alone, and the framing."""
        refusal = guards.host_refusal(self.headers, self.app.allowed_hosts)
        if refusal is not None:
            return refusal, None
        frame = guards.framing(self.headers)
        if isinstance(frame, Respond):
            return frame, None
        refusal = guards.route_refusal(self.app, self.command, path, self.headers)
        return refusal or guards.size_refusal(self.command, path, frame), frame

    def _refuse(self, response: Respond, frame: guards.Framing | None) -> None:
        """Answer without using the body: a small one is read and dropped (so the client
        reads the answer, not a reset), anything else closes the connection."""
        declared = frame.declared if frame is not None else None
        if declared is None or declared > guards.DRAIN_LIMIT or self._expects_continue():
            self.close_connection = True  # (a client waiting for 100 Continue sent no body)
        elif declared:
            self.rfile.read(declared)
        self._send(response)

    def _read_body(self, frame: guards.Framing, path: str) -> bytes | Respond:
        limit = guards.body_limit(self.command, path)
        if self._expects_continue():
            self.send_response_only(100)
            self.end_headers()
        try:
            body = self._read_chunked(limit) if frame.chunked else self._read_exactly(frame)
        except ValueError:
            return error(400, "Malformed or incomplete request body.")
        return guards.too_large(self.command, path) if body is None else body

    def _expects_continue(self) -> bool:
        expect = (self.headers.get("Expect") or "").strip().lower()
        return expect == "100-continue" and self.request_version != "HTTP/1.0"

    def _read_exactly(self, frame: guards.Framing) -> bytes:
        length = frame.length or 0
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise ValueError("incomplete body")
        return body

    def _read_chunked(self, limit: int) -> bytes | None:
        """A ``Transfer-Encoding: chunked`` body; None once it grows over ``limit``."""
        parts: list[bytes] = []
        total = 0
        while True:
            size = _chunk_size(self.rfile.readline(_CHUNK_LINE + 1))
            if size == 0:
                break
            total += size
            if total > limit:
                return None
            data = self.rfile.read(size)
            if len(data) != size or self.rfile.read(2) != b"\r\n":
                raise ValueError("incomplete chunk")
            parts.append(data)
        for _ in range(_MAX_TRAILERS):
            line = self.rfile.readline(_CHUNK_LINE + 1)
            if line in (b"\r\n", b"\n"):
                return b"".join(parts)
            if not line.endswith(b"\n"):
                raise ValueError("bad trailer")
        raise ValueError("too many trailers")

    def _answer(self, request: Request) -> Answer:
        """The fault plan first (it may answer, drop or delay), then the route table."""
        rule = self.app.faults.take(request.method, request.path)
        early = rule.before() if rule is not None else None
        if isinstance(early, Delay):
            if self.server.stopping.wait(early.seconds):
                return Drop()
        elif early is not None:
            return early
        response, faults_after = dispatch(self.app, request)
        if rule is not None and faults_after and response.status == 200:
            return rule.after(response)
        return response

    def _log_entry(self, request: Request) -> dict[str, Any]:
        """What the request log keeps: never the key itself, never a refused body."""
        parsed: Any = None
        if request.body and request.path.startswith("/v1/"):
            parsed = request.parsed[0]
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
            "bytes": len(request.body),
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
        if self.close_connection:
            self.send_header("Connection", "close")
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
            if not self._write(body[i : i + step]) or self.server.stopping.wait(effect.pause):
                self._drop()
                return

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
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _chunk_size(line: bytes) -> int:
    """The size on a chunk-size line (extensions ignored); ValueError if malformed."""
    if not line.endswith(b"\n") or len(line) > _CHUNK_LINE:
        raise ValueError("bad chunk-size line")
    text = line.split(b";", 1)[0].strip()
    if not text or len(text) > 15 or text.strip(b"0123456789abcdefABCDEF"):
        raise ValueError("bad chunk size")
    return int(text, 16)
