"""Fault injection for the sandbox: make chosen requests fail the way real networks do.

A rule matches a method and a path (a prefix, or a glob when it contains ``*``) and fires
``times`` times (None = always):

- ``status``: answer ``status`` with an ``{"error"}`` JSON body, or an HTML page when ``html``
  is true; ``retry_after`` sets the ``Retry-After`` header.
- ``drop``: close the connection before doing anything (the request had no effect).
- ``drop_after``: do the work (e.g. create the task), then close without answering.
- ``delay``: wait ``delay`` seconds, then answer normally (for read timeouts).
- ``cut``: for output files, send the headers and half the bytes, then close.
- ``slow_body``: for output files, send the bytes in small pieces, ``delay`` seconds apart.
- ``no_range``: for output files, ignore ``Range`` and always send the whole file.
- ``bad_json``: answer 200 with an HTML page instead of JSON.
- ``empty_json``: do the work, then answer 200 with ``{}`` (fields missing).
- ``body``: do the work, then answer 200 with ``body`` (any JSON) instead.
- ``not_image``: for output files, serve text instead of image bytes.

Rules come from ``SandboxServer(faults=...)``, ``runway-img sandbox --faults FILE`` or
``POST /_sandbox/faults`` with a JSON list of rule objects.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runway_cli.sandbox.server import _Handler

ACTIONS = frozenset(
    {
        "status",
        "drop",
        "drop_after",
        "delay",
        "cut",
        "no_range",
        "slow_body",
        "bad_json",
        "empty_json",
        "not_image",
        "body",
    }
)
_HTML = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body>Bad Gateway</body></html>"
)


@dataclass
class FaultRule:
    action: str
    method: str = "*"
    path: str = "/"
    times: int | None = 1
    status: int = 503
    retry_after: str | None = None
    html: bool = False
    delay: float = 0.0
    message: str | None = None
    body: Any = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}")

    @classmethod
    def from_dict(cls, data: Any) -> FaultRule:
        """A rule from JSON, with its field types checked (ValueError otherwise)."""
        if not isinstance(data, dict):
            raise ValueError("each fault rule must be a JSON object")
        types: dict[str, tuple[type, ...]] = {
            "action": (str,),
            "method": (str,),
            "path": (str,),
            "times": (int, type(None)),
            "status": (int,),
            "retry_after": (str, type(None)),
            "html": (bool,),
            "delay": (int, float),
            "message": (str, type(None)),
            "body": (object,),
        }
        for name, value in data.items():
            if name not in types:
                raise ValueError(f"unknown fault field {name!r}")
            if not isinstance(value, types[name]) or (
                isinstance(value, bool) and name in ("times", "status", "delay")
            ):
                raise ValueError(f"fault field {name!r} has the wrong type")
        if "action" not in data:
            raise ValueError("a fault rule needs an action")
        return cls(**data)

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method):
            return False
        if "*" in self.path:
            return fnmatch.fnmatchcase(path, self.path)
        return path.startswith(self.path)

    # Each hook returns True when it has answered (or dropped) the request itself.

    def before(self, handler: _Handler) -> bool:
        if self.action == "delay":
            time.sleep(self.delay)
            return False
        if self.action == "drop":
            handler._drop()
            return True
        if self.action == "status":
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            if self.html:
                handler._send(self.status, _HTML, "text/html", headers)
            else:
                message = self.message or f"Injected fault: HTTP {self.status}."
                handler._send(self.status, json.dumps({"error": message}).encode(), headers=headers)
            return True
        if self.action == "bad_json":
            handler._send(200, _HTML, "text/html")
            return True
        return False

    def after(self, handler: _Handler) -> bool:
        if self.action == "drop_after":
            handler._drop()
            return True
        if self.action == "empty_json":
            handler._send(200, b"{}")
            return True
        if self.action == "body":
            handler._send(200, json.dumps(self.body).encode())
            return True
        return False

    def serve_file(self, handler: _Handler, data: bytes, content_type: str) -> bool:
        if self.action == "cut":
            handler._log(200)
            handler.send_response(200)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            handler.send_header("Accept-Ranges", "bytes")
            handler.end_headers()
            handler.wfile.write(data[: len(data) // 2])
            handler._drop()
            return True
        if self.action == "slow_body":
            handler._log(200)
            handler.send_response(200)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            step = max(1, len(data) // 50)
            try:
                for i in range(0, len(data), step):
                    handler.wfile.write(data[i : i + step])
                    handler.wfile.flush()
                    time.sleep(self.delay)
            except OSError:
                handler._drop()  # the client went away
                return True
            return True
        if self.action == "no_range":
            handler._send(200, data, content_type)
            return True
        if self.action == "not_image":
            handler._send(200, b"this is not an image\n" * 10, content_type)
            return True
        return False


class FaultPlan:
    """The active rules, consumed in order; safe to use from the server's threads."""

    def __init__(self, rules: list[FaultRule]) -> None:
        self._rules = rules
        self._lock = threading.Lock()
        self._taken = 0

    def replace(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._rules = list(rules)

    def add(self, *rules: FaultRule) -> None:
        with self._lock:
            self._rules.extend(rules)

    @property
    def taken(self) -> int:
        """How many times a rule has fired (for tests that wait for a fault to be in play)."""
        with self._lock:
            return self._taken

    def take(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path) and (rule.times is None or rule.times > 0):
                    if rule.times is not None:
                        rule.times -= 1
                    self._taken += 1
                    return rule
        return None


def load_faults(path: Path) -> list[FaultRule]:
    """Rules from a JSON file holding a list of rule objects (UsageError if unusable)."""
    from runway_cli.errors import UsageError

    try:
        items = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(items, list):
            raise ValueError("the file must hold a JSON list")
        return [FaultRule.from_dict(item) for item in items]
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"Cannot use the fault file {path}: {exc}.") from None
