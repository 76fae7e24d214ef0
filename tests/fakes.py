"""Test doubles shared by the unit tests: simulated time, a recording reporter, a scripted API
client, tiny complete images, and a purpose-built file host on a real local socket.

Nothing here sleeps: time is simulated, and the file host answers from a script.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from runway_cli.api.types import CreatedTask, RetryEvent, Task, Upload
from runway_cli.reporting import Reporter
from runway_cli.saving import SavedFile

TASK_ID = "8c0b7d8e-3f5a-4d8e-9b1c-2a6f0e4d5c3b"
OTHER_ID = "1f0e9d8c-7b6a-4596-8473-625140302010"


# -- time ----------------------------------------------------------------------------------


class FakeTime:
    """A monotonic clock whose sleep() advances it instantly and records each wait."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.start = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, f"negative sleep {seconds}"
        self.sleeps.append(seconds)
        self.now += seconds

    @property
    def elapsed(self) -> float:
        return self.now - self.start


# -- images --------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bytes(payload: int = 64) -> bytes:
    """A complete PNG (signature ... IEND) of about ``payload`` bytes more than the minimum."""
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"tEXt", b"c\x00" + b"x" * payload)
        + _chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + _chunk(b"IEND", b"")
    )


def jpeg_bytes(payload: int = 64) -> bytes:
    """Starts with SOI and an APP0 marker, ends with EOI."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x11" * payload + b"\xff\xd9"


def webp_bytes(payload: int = 64) -> bytes:
    """A RIFF/WEBP container whose header states the file's length."""
    body = b"WEBPVP8 " + b"\x22" * payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def svg_bytes() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect/></svg>\n'


# -- tasks ---------------------------------------------------------------------------------


def task(status: str = "SUCCEEDED", task_id: str = TASK_ID, **fields: Any) -> Task:
    """A typed task as the client would build it from ``{"id", "status", **fields}``."""
    return Task.from_api({"id": task_id, "status": status, **fields}, task_id)


def succeeded(*urls: str, task_id: str = TASK_ID, credits: int = 5) -> Task:
    return task("SUCCEEDED", task_id, output=list(urls), cost={"credits": credits})


# -- the reporter --------------------------------------------------------------------------


class RecordingReporter(Reporter):
    """Keeps every workflow event as ``(name, *args)`` in order."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def note(self, text: str) -> None:
        self.events.append(("note", text))

    def warning(self, text: str, *, at_risk: bool = False) -> None:
        self.events.append(("warning", text, at_risk))

    def uploading(self, label: str, done: int, total: int) -> None:
        self.events.append(("uploading", label, done, total))

    def retrying(self, event: RetryEvent) -> None:
        self.events.append(("retrying", event))

    def created(self, task_id: str) -> None:
        self.events.append(("created", task_id))

    def started(self, task_id: str) -> None:
        self.events.append(("started", task_id))

    def progress(self, task: Task) -> None:
        self.events.append(("progress", task.status.value))

    def saved(self, task_id: str, path: SavedFile) -> None:
        self.events.append(("saved", task_id, path.path.name))

    def names(self) -> list[str]:
        return [event[0] for event in self.events]

    def of(self, name: str) -> list[tuple[Any, ...]]:
        return [event[1:] for event in self.events if event[0] == name]


# -- the API client ------------------------------------------------------------------------


@dataclass
class FakeDownload:
    """What ``RunwayClient.open_download`` returns, from bytes in memory."""

    body: bytes
    status: int = 200
    content_type: str = "image/png"
    length: int | None = None
    content_range: str | None = None
    closed: bool = False

    def chunks(self, size: int = 64 * 1024) -> Iterator[bytes]:
        for start in range(0, len(self.body), size):
            yield self.body[start : start + size]

    def close(self) -> None:
        self.closed = True


Step = Any  # a value to return, an exception to raise, or a callable producing either


def _play(step: Step) -> Any:
    if callable(step) and not isinstance(step, Task | CreatedTask):
        step = step()
    if isinstance(step, BaseException):
        raise step
    return step


@dataclass
class FakeClient:
    """A scripted stand-in for ``RunwayClient``: each call takes the next scripted step.

    ``tasks``: answers to ``get_task`` in order (the last one repeats). ``files``: bytes per
    output URL (or a list of steps per URL). ``create``: the answer to the create request.
    """

    create: Step = field(default_factory=lambda: CreatedTask(TASK_ID, 5))
    tasks: list[Step] = field(default_factory=list)
    files: dict[str, Any] = field(default_factory=dict)
    delete: Step = None
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def create_text_to_image(self, body: Mapping[str, Any]) -> CreatedTask:
        self.calls.append(("create", dict(body)))
        created: CreatedTask = _play(self.create)
        return created

    def get_task(self, task_id: str, *, once: bool = False) -> Task:
        self.calls.append(("get_task", task_id))
        polls = sum(1 for call in self.calls if call[0] == "get_task")
        if not self.tasks:
            raise AssertionError("no task answers scripted")
        answer: Task = _play(self.tasks[min(polls, len(self.tasks)) - 1])
        return answer

    def delete_task(self, task_id: str) -> None:
        self.calls.append(("delete_task", task_id))
        _play(self.delete)

    def create_upload(self, filename: str) -> Upload:
        self.calls.append(("create_upload", filename))
        return Upload(
            upload_url="https://uploads.example/up",
            fields={"key": f"uploads/{filename}"},
            runway_uri=f"runway://uploads/{filename}",
        )

    def upload_file(
        self,
        upload: Upload,
        filename: str,
        content: bytes,
        mime: str,
        on_progress: Callable[[int, int], None] = lambda sent, total: None,
    ) -> str:
        self.calls.append(("upload_file", filename, len(content), mime))
        on_progress(len(content) // 2, len(content))
        on_progress(len(content), len(content))
        return upload.runway_uri

    def open_download(self, url: str, *, offset: int = 0) -> FakeDownload:
        self.calls.append(("open_download", url, offset))
        script = self.files[url]
        if isinstance(script, list):
            opened = sum(1 for c in self.calls if c[0] == "open_download" and c[1] == url)
            step = script[min(opened, len(script)) - 1]
        else:
            step = script
        answer = _play(step)
        if isinstance(answer, bytes):
            return FakeDownload(answer, length=len(answer))
        download: FakeDownload = answer
        return download

    def count(self, name: str) -> int:
        return sum(1 for call in self.calls if call[0] == name)


# -- a file host on a real socket ------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer of the file host.

    ``body`` is sent after ``status`` and ``headers``; ``cut_after`` closes the connection
    after that many body bytes, having promised the whole body's length.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None


class FileHost:
    """A tiny HTTP server on 127.0.0.1 that answers GETs from a script and logs each request's
    ``Range`` header. Use as a context manager; ``url(name)`` names a file on it."""

    def __init__(self) -> None:
        self.script: list[Reply | Callable[[str | None], Reply]] = []
        self.ranges: list[str | None] = []
        self._lock = threading.Lock()
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between writes

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                wanted = self.headers.get("Range")
                with host._lock:
                    host.ranges.append(wanted)
                    step = host.script.pop(0) if len(host.script) > 1 else host.script[0]
                reply = step(wanted) if callable(step) else step
                self.send_response(reply.status)
                headers = {"Content-Length": str(len(reply.body)), **reply.headers}
                if reply.cut_after is not None:
                    headers["Connection"] = "close"
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if reply.cut_after is None:
                    self.wfile.write(reply.body)
                    return
                self.wfile.write(reply.body[: reply.cut_after])
                self.wfile.flush()
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def url(self, name: str = "out.png") -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/files/{name}?sig=abc"

    def __enter__(self) -> FileHost:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def ranged(whole: bytes, *, wrong_offset: int | None = None) -> Callable[[str | None], Reply]:
    """A reply that honours ``Range: bytes=N-`` (or answers from ``wrong_offset`` instead)."""

    def reply(wanted: str | None) -> Reply:
        if wanted is None:
            return Reply(200, whole)
        first = int(wanted.removeprefix("bytes=").rstrip("-"))
        if wrong_offset is not None:
            first = wrong_offset
        last = len(whole) - 1
        return Reply(206, whole[first:], {"Content-Range": f"bytes {first}-{last}/{len(whole)}"})

    return reply
