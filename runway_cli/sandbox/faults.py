"""Fault injection: make chosen requests fail the way real networks and services do.

A rule matches a method (or ``*``) and a path (a prefix, or a glob when it contains ``*``) and
fires ``times`` times (None = always). It returns effects (``effects.py``) that the server
carries out; it never touches the connection itself. Before the work is done:

- ``status``: answer ``status`` with an ``{"error"}`` JSON body, or an HTML page when ``html``
  is true; ``retry_after`` sets the ``Retry-After`` header.
- ``drop``: close the connection before doing anything (the request had no effect).
- ``delay``: wait ``delay`` seconds, then answer normally (for read timeouts).
- ``bad_json``: answer 200 with an HTML page instead of JSON.

After the work is done (only on a 200 answer of an API route or an output file):

- ``drop_after``: close without answering (e.g. the task was created, the client cannot know).
- ``empty_json`` / ``body``: answer 200 with ``{}`` / with ``body`` (any JSON) instead.
- ``cut``: output files: send the headers and half the bytes, then close.
- ``slow_body``: output files: send the bytes in small pieces, ``delay`` seconds apart.
- ``no_range``: output files: ignore ``Range`` and always send the whole file.
- ``not_image``: output files: serve text instead of image bytes.

Rules come from ``SandboxServer(faults=...)``, ``runway-img sandbox --faults FILE``
(``load_faults``) or ``POST /_sandbox/faults`` with a JSON list of rule objects. Every field is
checked when a rule is made, however it is made, so nothing reaches a response unchecked: a
status of 200-599 (an interim 1xx is no answer; 204 and 304 go out without a body), a delay of
0-3600 s, ``retry_after`` one short line of printable ASCII, ``body`` JSON of bounded depth.
A rule never matches the sandbox's control routes (``/_sandbox/faults``, ``/_sandbox/requests``),
so no rule can lock them out.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .effects import Answer, Cut, Delay, Drop, Respond, SlowBody, json_response
from .guards import MAX_JSON_DEPTH, is_control, parse_json

_HTML = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body>Bad Gateway</body></html>"
)
_NOT_AN_IMAGE = b"this is not an image\n" * 10
_MAX_DELAY = 3600.0
_MAX_HEADER = 64  # characters of retry_after
_NO_BODY = (204, 304)
_NUMBERS = ("times", "status", "delay")
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
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


class FaultFileError(ValueError):
    """A fault file that cannot be used; the message names the file and the reason."""


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
        for name, kinds in _FIELD_TYPES.items():
            value = getattr(self, name)
            if not isinstance(value, kinds) or (isinstance(value, bool) and name in _NUMBERS):
                raise ValueError(f"fault field {name!r} has the wrong type")
        problem = _problem(self)
        if problem is not None:
            raise ValueError(problem)

    @classmethod
    def from_dict(cls, data: Any) -> FaultRule:
        """A rule from JSON, with its field types checked (ValueError otherwise)."""
        if not isinstance(data, dict):
            raise ValueError("each fault rule must be a JSON object")
        for name in data:
            if name not in _FIELD_TYPES:
                raise ValueError(f"unknown fault field {name!r}")
        if "action" not in data:
            raise ValueError("a fault rule needs an action")
        return cls(**data)

    def matches(self, method: str, path: str) -> bool:
        if is_control(path) or self.method not in ("*", method):
            return False
        if "*" in self.path:
            return fnmatch.fnmatchcase(path, self.path)
        return path.startswith(self.path)

    def before(self) -> Respond | Drop | Delay | None:
        """The effect that replaces (or delays) the work; None: go ahead normally."""
        make = BEFORE.get(self.action)
        return make(self) if make else None

    def after(self, response: Respond) -> Answer:
        """What to send instead of ``response``, a 200 the work produced."""
        change = AFTER.get(self.action)
        return change(self, response) if change else response


def _problem(rule: FaultRule) -> str | None:
    """What is wrong with a rule's values (their types are already right), or None."""
    if rule.action not in BEFORE and rule.action not in AFTER:
        return f"unknown fault action {rule.action!r}"
    if not 200 <= rule.status <= 599:
        return f"fault status {rule.status} is not an HTTP status for an answer (200-599)"
    if not 0 <= rule.delay <= _MAX_DELAY:
        return f"fault delay must be 0-{_MAX_DELAY:g} seconds, not {rule.delay}"
    if rule.times is not None and rule.times < 0:
        return "fault times must be >= 0 or null (always)"
    after = rule.retry_after
    if after is not None and not (after.isascii() and after.isprintable() and after.strip()):
        return "fault retry_after must be one line of printable ASCII"
    if after is not None and len(after) > _MAX_HEADER:
        return f"fault retry_after must be at most {_MAX_HEADER} characters"
    if rule.method != "*" and not (
        rule.method.isascii() and rule.method.isalpha() and rule.method.isupper()
    ):
        return f"fault method must be an HTTP method or *, not {rule.method!r}"
    if not rule.path.startswith(("/", "*")):
        return "fault path must start with / (or be a * glob)"
    return _body_problem(rule.body)


def _body_problem(body: Any) -> str | None:
    try:
        text = json.dumps(body, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return "fault body must be JSON (objects, lists, strings, numbers, true/false/null)"
    if not parse_json(text.encode())[1]:
        return f"fault body must nest at most {MAX_JSON_DEPTH} levels deep"
    return None


def _status(rule: FaultRule) -> Respond:
    headers = {"Retry-After": rule.retry_after} if rule.retry_after else {}
    if rule.status in _NO_BODY:
        return Respond(rule.status, b"", headers=headers)
    if rule.html:
        return Respond(rule.status, _HTML, "text/html", headers)
    return json_response(
        rule.status, {"error": rule.message or f"Injected fault: HTTP {rule.status}."}, headers
    )


def _for_files(
    change: Callable[[FaultRule, Respond], Answer],
) -> Callable[[FaultRule, Respond], Answer]:
    """An output-file fault: other answers go out unchanged."""
    return lambda rule, response: change(rule, response) if response.output_file else response


def _for_api(
    change: Callable[[FaultRule, Respond], Answer],
) -> Callable[[FaultRule, Respond], Answer]:
    """A JSON-answer fault: output files go out unchanged."""
    return lambda rule, response: response if response.output_file else change(rule, response)


BEFORE: dict[str, Callable[[FaultRule], Respond | Drop | Delay]] = {
    "status": _status,
    "drop": lambda rule: Drop(),
    "delay": lambda rule: Delay(rule.delay),
    "bad_json": lambda rule: Respond(200, _HTML, "text/html"),
}
AFTER: dict[str, Callable[[FaultRule, Respond], Answer]] = {
    "drop_after": lambda rule, response: Drop(),
    "empty_json": _for_api(lambda rule, response: Respond(200, b"{}")),
    "body": _for_api(lambda rule, response: json_response(200, rule.body)),
    "cut": _for_files(lambda rule, response: Cut(response)),
    "slow_body": _for_files(lambda rule, response: SlowBody(response, pause=rule.delay)),
    "no_range": _for_files(lambda rule, response: dataclasses.replace(response, ignore_range=True)),
    "not_image": _for_files(
        lambda rule, response: dataclasses.replace(response, body=_NOT_AN_IMAGE, ignore_range=True)
    ),
}
ACTIONS = frozenset(BEFORE) | frozenset(AFTER)


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


MAX_FAULT_FILE = 1 << 20


def load_faults(path: Path) -> list[FaultRule]:
    """Rules from a JSON file holding a list of rule objects (FaultFileError if unusable)."""
    try:
        if not path.is_file():  # a device or a FIFO would be read without end
            raise ValueError("it is not a regular file")
        with path.open("rb") as fh:
            raw = fh.read(MAX_FAULT_FILE + 1)
        if len(raw) > MAX_FAULT_FILE:
            raise ValueError(f"it is over {MAX_FAULT_FILE:,} bytes")
        items = json.loads(raw.decode("utf-8"))
        if not isinstance(items, list):
            raise ValueError("the file must hold a JSON list")
        return [FaultRule.from_dict(item) for item in items]
    except (OSError, ValueError, TypeError) as exc:
        raise FaultFileError(f"Cannot use the fault file {path}: {exc}.") from None
