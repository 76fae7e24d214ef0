"""What the sandbox checks before it reads a request's body: the defences against hostile
clients on the same machine (a web page the user visits, a runaway test, a port scanner).

Everything here looks only at the request line and headers, so nothing unauthenticated is
ever read into memory, parsed or logged:

- ``Host`` must name this machine's loopback with the server's port (DNS rebinding: a page
  on ``evil.example`` that resolves to 127.0.0.1 sends ``Host: evil.example:PORT``): 400
  when missing or repeated, 421 otherwise.
- the body's framing must be unambiguous (request smuggling): one ``Content-Length`` of
  digits, or ``Transfer-Encoding: chunked`` alone (decoded by the plumbing); anything else is
  refused and the connection closed.
- every route is authenticated before its body is read: the API and the control routes by
  the Bearer key, output files by their signed URL (checked by the route), the storage side
  of an upload by an upload id the API issued.
- control routes take JSON only (``Content-Type: application/json``): a browser cannot send
  that cross-origin without a preflight, which the sandbox never answers.
- bodies are capped at the API's own limits (413 above): a create may carry the most
  reference images any model takes, each a data URI of up to 5 MiB; an upload's file may be
  16 MiB plus the multipart envelope; everything else 1 MiB.

``parse_json`` is the one JSON reader for request bodies: a bounded nesting depth (deeper is
invalid, never a RecursionError later when the body is logged or echoed).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from email.message import Message
from functools import cache
from typing import TYPE_CHECKING, Any

from runway_cli.wire import API_VERSION, VERSION_HEADER

from .catalog_data import models
from .effects import Respond, error

if TYPE_CHECKING:
    from .server import SandboxServer

DOC_URL = "https://docs.dev.runwayml.com/api"
MiB = 1024 * 1024
DATA_URI_LIMIT = 5 * MiB
UPLOAD_FILE_LIMIT = 16 * MiB
SMALL_BODY_LIMIT = 1 * MiB
DRAIN_LIMIT = 64 * 1024  # a refused request's body up to this is read and dropped, not kept
MAX_JSON_DEPTH = 64
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
CREATE_PATH = "/v1/text_to_image"
CONTROL_PATHS = frozenset({"/_sandbox/faults", "/_sandbox/requests"})
UPLOADS_PREFIX = "/_sandbox/uploads/"
FILES_PREFIX = "/_sandbox/files/"


def _most_references() -> int:
    counts = [m.references.max for m in models().values() if m.references is not None]
    return max((c for c in counts if c is not None), default=16)


@cache
def create_body_limit() -> int:
    """The largest create the API can accept: every reference a data URI at its limit."""
    return _most_references() * DATA_URI_LIMIT + SMALL_BODY_LIMIT


def body_limit(method: str, path: str) -> int:
    if method == "POST" and path == CREATE_PATH:
        return create_body_limit()
    if method == "POST" and path.startswith(UPLOADS_PREFIX):
        return UPLOAD_FILE_LIMIT + DRAIN_LIMIT
    return SMALL_BODY_LIMIT


def is_control(path: str) -> bool:
    """The sandbox's own routes: fault rules never apply to them."""
    return path in CONTROL_PATHS


# -- framing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Framing:
    """How long the body is: ``length`` bytes, or chunked (``length`` None)."""

    length: int | None
    chunked: bool = False

    @property
    def declared(self) -> int | None:
        """Bytes the client says follow (None: chunked, unknown until read)."""
        return None if self.chunked else self.length


def framing(headers: Message) -> Framing | Respond:
    """The body's framing, or a refusal (the connection must then be closed)."""
    encodings = headers.get_all("Transfer-Encoding") or []
    lengths = headers.get_all("Content-Length") or []
    if encodings:
        if lengths:
            return error(400, "Both Content-Length and Transfer-Encoding: refused.")
        if len(encodings) != 1 or encodings[0].strip().lower() != "chunked":
            return error(501, "Only Transfer-Encoding: chunked is supported.")
        return Framing(None, chunked=True)
    if len(set(lengths)) > 1:
        return error(400, "Conflicting Content-Length headers.")
    raw = lengths[0].strip() if lengths else "0"
    if not raw.isascii() or not raw.isdigit() or len(raw) > 15:
        return error(400, "Bad Content-Length.")
    return Framing(int(raw))


# -- before the body -------------------------------------------------------------------------


def allowed_hosts(names: tuple[str, ...], port: int, default_port: int) -> frozenset[str]:
    """The ``Host`` values that address this server: each name with the port (alone too when
    the port is the scheme's default, as clients then send it)."""
    hosts = {f"{name}:{port}" for name in names}
    if port == default_port:
        hosts.update(names)
    return frozenset(host.lower() for host in hosts)


def host_refusal(headers: Message, allowed: frozenset[str] | None) -> Respond | None:
    """Only requests addressed to this server (``allowed`` None: any host, ``allow_remote``)."""
    hosts = headers.get_all("Host") or []
    if len(hosts) != 1:
        return error(400, "Exactly one Host header is required.")
    if allowed is None or hosts[0].strip().lower() in allowed:
        return None
    return error(421, f"This sandbox answers only requests for {', '.join(sorted(allowed))}.")


def key_ok(app: SandboxServer, headers: Message) -> bool:
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    if scheme != "Bearer" or not token:
        return False
    given = token.encode("utf-8", "replace")
    return any(hmac.compare_digest(given, key.encode()) for key in app.keys)


def _api_refusal(app: SandboxServer, headers: Message) -> Respond | None:
    if not key_ok(app, headers):
        return error(401, "Invalid API key. Check the Authorization header.")
    version = headers.get(VERSION_HEADER)
    if version is None:
        return error(400, f"The {VERSION_HEADER} header is required.", docUrl=DOC_URL)
    if version != API_VERSION:
        return error(400, f"Unsupported {VERSION_HEADER}: {version}.", docUrl=DOC_URL)
    return None


def _control_refusal(app: SandboxServer, method: str, headers: Message) -> Respond | None:
    if not key_ok(app, headers):
        return error(401, "The sandbox's control routes need the key: Authorization: Bearer KEY.")
    kind = (headers.get("Content-Type") or "").partition(";")[0].strip().lower()
    if method == "POST" and kind != "application/json":
        return error(415, "Send Content-Type: application/json.")
    return None


def route_refusal(app: SandboxServer, method: str, path: str, headers: Message) -> Respond | None:
    """Who may use this route, decided from the headers alone."""
    if path.startswith("/v1/"):
        return _api_refusal(app, headers)
    if is_control(path):
        return _control_refusal(app, method, headers)
    if path.startswith(UPLOADS_PREFIX) and method == "POST":
        upload_id = path[len(UPLOADS_PREFIX) :]
        if not app.store.upload_exists(upload_id):
            return Respond(404, b"<Error><Code>NoSuchUpload</Code></Error>", "application/xml")
        return None
    if path.startswith((FILES_PREFIX, UPLOADS_PREFIX)):
        return None  # signed URLs, checked by the route (405 for other methods)
    return error(404, "Not found.")


def size_refusal(method: str, path: str, frame: Framing) -> Respond | None:
    declared = frame.declared
    if declared is not None and declared > body_limit(method, path):
        return too_large(method, path)
    return None


def too_large(method: str, path: str) -> Respond:
    return error(413, f"Request body over {body_limit(method, path)} bytes.")


# -- the body --------------------------------------------------------------------------------


def _depth_ok(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Containers nest at most ``limit`` deep (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def parse_json(raw: bytes) -> tuple[Any, bool]:
    """``(value, True)``, or ``(None, False)`` for a body that is not JSON or nests too deep."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None, False
    return (value, True) if _depth_ok(value) else (None, False)
