"""What the sandbox does with a request, as data: route handlers and fault rules return these,
and the HTTP plumbing (``server.py``) carries them out.

- ``Respond``: answer with a status, body and headers (the normal case).
- ``Drop``: close the connection without answering.
- ``Cut``: send the headers and only the first ``fraction`` of the body, then close.
- ``SlowBody``: send the body in ``pieces`` pieces, ``pause`` seconds apart.
- ``Delay``: wait ``seconds``, then handle the request normally (fault rules only, before the
  work is done).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Respond:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    # An output file: the plumbing answers a ``Range: bytes=N-`` request with 206 and the rest,
    # unless ``ignore_range`` (the ``no_range`` fault).
    output_file: bool = False
    ignore_range: bool = False


@dataclass(frozen=True)
class Drop:
    pass


@dataclass(frozen=True)
class Cut:
    response: Respond
    fraction: float = 0.5


@dataclass(frozen=True)
class SlowBody:
    response: Respond
    pause: float
    pieces: int = 50


@dataclass(frozen=True)
class Delay:
    seconds: float


Answer = Respond | Drop | Cut | SlowBody


def json_response(status: int, data: Any, headers: Mapping[str, str] | None = None) -> Respond:
    return Respond(status, json.dumps(data).encode(), headers=dict(headers or {}))


def error(status: int, message: str, **extra: Any) -> Respond:
    """The API's error shape: ``{"error": message, ...}``."""
    return json_response(status, {"error": message, **extra})


def xml_error(status: int, code: str, message: str | None = None) -> Respond:
    """An error from the file store (S3-like XML), for output files and uploads."""
    text = f"<Error><Code>{code}</Code>" + (f"<Message>{message}</Message>" if message else "")
    return Respond(status, (text + "</Error>").encode(), "application/xml")
