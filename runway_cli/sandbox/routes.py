"""The sandbox's routes: a table of (method, path pattern) -> handler.

Handlers take the app and the request and return a ``Respond`` (``effects.py``); they never
touch the connection. Paths under ``/v1`` are the Runway API; paths under ``/_sandbox`` are the
sandbox's own: output files, the upload store, the request log and fault rules. Who may call
which route (the Bearer key, ``X-Runway-Version``, the Host, the body's size) was checked
before the body was read (``guards.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .accounts import Refused
from .effects import Respond, error, json_response, xml_error
from .faults import FaultRule
from .guards import DOC_URL, parse_json
from .images import sniff_image
from .lifecycle import FAILED, IN_PROGRESS, RUNNING, SUCCEEDED
from .markers import failure_fields
from .outputs import CONTENT_TYPES
from .request_checks import issue, validate_body
from .store import TaskRow

if TYPE_CHECKING:
    from .server import SandboxServer

TASK_NOT_FOUND = "Could not find Task"
UPLOAD_PREFIX = "runway://sandbox/uploads/"
_HEADERS = BytesHeaderParser()
_UPLOAD_EXTENSIONS = re.compile(r".*\.(png|jpe?g|webp|gif|mp4|mov|webm|mp3|wav)", re.I | re.S)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes

    @cached_property
    def parsed(self) -> tuple[Any, bool]:
        """The body as JSON, parsed once: ``(value, True)``, or ``(None, False)``."""
        return parse_json(self.body)


Handler = Callable[["SandboxServer", Request, dict[str, str]], Respond]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    faults_after: bool = True  # a fault rule may change its 200 answer (``FaultRule.after``)


def dispatch(app: SandboxServer, request: Request) -> tuple[Respond, bool]:
    """The answer, and whether a fault rule may still change it."""
    allowed = False
    for route in ROUTES:
        match = route.pattern.fullmatch(request.path)
        if match is None:
            continue
        if route.method == request.method:
            return route.handler(app, request, match.groupdict()), route.faults_after
        allowed = True
    return (error(405, "Method not allowed.") if allowed else error(404, "Not found.")), False


def _json_body(request: Request) -> tuple[Any, Respond | None]:
    value, ok = request.parsed
    if not ok:
        return None, error(400, "Request body is not valid JSON.", docUrl=DOC_URL)
    return value, None


# -- /v1: the API ------------------------------------------------------------------------------


def create_task(app: SandboxServer, request: Request, _: dict[str, str]) -> Respond:
    body, refusal = _json_body(request)
    if refusal is not None:
        return refusal
    model, issues = validate_body(body, known_upload=lambda uri: upload_ready(app, uri))
    if issues or model is None:
        return error(400, "Validation of body failed", issues=issues, docUrl=DOC_URL)
    try:
        row = app.create_task(model, body)
    except Refused as exc:
        return error(exc.status, exc.message)
    return json_response(200, {"id": row.id, "estimatedCost": {"credits": row.credits}})


def task_json(app: SandboxServer, row: TaskRow) -> dict[str, Any]:
    """A task as ``GET /v1/tasks/{id}`` shows it now."""
    status, progress = app.account.status(row)
    created = datetime.fromtimestamp(row.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    body: dict[str, Any] = {"id": row.id, "createdAt": created[:-3] + "Z", "status": status}
    if status in IN_PROGRESS:
        body["estimatedCost"] = {"credits": row.credits}
        if status == RUNNING:
            body["progress"] = progress
    elif status == SUCCEEDED:
        count = 0 if row.behaviour == "no-output" else row.outputs
        body["output"] = [app.files.url(app.base_url, row, i) for i in range(count)]
        body["cost"] = {"credits": row.credits}
    else:  # FAILED, CANCELLED: refunded
        if status == FAILED:
            body.update(failure_fields(row.failure_code))
        body["cost"] = {"credits": 0}
    return body


def _visible_task(app: SandboxServer, task_id: str) -> TaskRow | None:
    """The task, unless unknown or taken away by DELETE ("will not be able to be fetched")."""
    row = app.store.get(task_id)
    return row if row is not None and row.deleted_at is None else None


def get_task(app: SandboxServer, request: Request, params: dict[str, str]) -> Respond:
    row = _visible_task(app, params["id"])
    if row is None:
        return error(404, TASK_NOT_FOUND)
    return json_response(200, task_json(app, row))


def delete_task(app: SandboxServer, request: Request, params: dict[str, str]) -> Respond:
    """Aborts a task in progress or deletes an ended one; either way it is gone afterwards."""
    if not app.store.mark_deleted(params["id"]):
        return error(404, TASK_NOT_FOUND)
    return Respond(204)


def organization(app: SandboxServer, request: Request, _: dict[str, str]) -> Respond:
    return json_response(200, app.account.organization())


def create_upload(app: SandboxServer, request: Request, _: dict[str, str]) -> Respond:
    body, refusal = _json_body(request)
    if refusal is not None:
        return refusal
    issues = []
    filename = body.get("filename") if isinstance(body, dict) else None
    if not isinstance(filename, str) or not 3 <= len(filename) <= 255:
        issues.append(issue("invalid_type", ["filename"], "Required"))
    elif not _UPLOAD_EXTENSIONS.fullmatch(filename):
        issues.append(issue("custom", ["filename"], "Unsupported file extension"))
    if not isinstance(body, dict) or body.get("type") != "ephemeral":
        message = "Invalid enum value. Expected 'ephemeral'"
        issues.append(issue("invalid_enum_value", ["type"], message))
    if issues:
        return error(400, "Validation of body failed", issues=issues, docUrl=DOC_URL)
    upload_id = app.store.create_upload(str(filename))
    return json_response(
        200,
        {
            "uploadUrl": f"{app.base_url}/_sandbox/uploads/{upload_id}",
            "fields": {
                "key": f"uploads/{upload_id}/{filename}",
                "policy": app.files.sign(f"upload|{upload_id}", 0),
            },
            "runwayUri": UPLOAD_PREFIX + upload_id,
        },
    )


def upload_ready(app: SandboxServer, uri: str) -> bool:
    return uri.startswith(UPLOAD_PREFIX) and app.store.upload_ready(uri[len(UPLOAD_PREFIX) :])


# -- /_sandbox: the file store and test hooks --------------------------------------------------


def receive_upload(app: SandboxServer, request: Request, params: dict[str, str]) -> Respond:
    """The storage side of an upload: multipart/form-data with the fields, then the file."""
    upload_id = params["id"]
    fields, data = _parse_multipart(request.headers.get("Content-Type", ""), request.body)
    if fields.get("policy") != app.files.sign(f"upload|{upload_id}", 0):
        return xml_error(403, "AccessDenied")
    kind = sniff_image(data[:16]) if data is not None else None
    if kind is None or data is None:
        return xml_error(400, "InvalidArgument")
    if not app.store.complete_upload(upload_id, len(data), kind):
        return xml_error(404, "NoSuchUpload")
    return Respond(204)


def _parse_multipart(content_type: str, raw: bytes) -> tuple[dict[str, str], bytes | None]:
    """Form fields and the ``file`` part of a multipart/form-data body (RFC 7578).

    Split on the boundary with ``bytes`` operations (a 16 MiB file takes milliseconds; the
    email parser needs a second); each part's few header lines go to the email parser.
    """
    header = Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    fields: dict[str, str] = {}
    file_bytes: bytes | None = None
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        return fields, None
    delimiter = b"\r\n--" + boundary.encode("latin-1", "replace")
    for chunk in (b"\r\n" + raw).split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, found, payload = chunk.partition(b"\r\n\r\n")
        if not found:
            continue
        part = _HEADERS.parsebytes(head.lstrip(b" \t").removeprefix(b"\r\n"))
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        if name == "file":
            file_bytes = payload
        else:
            fields[name] = payload.decode("utf-8", "replace")
    return fields, file_bytes


def serve_file(app: SandboxServer, request: Request, params: dict[str, str]) -> Respond:
    if not app.files.signature_ok(request.path, request.query):
        return xml_error(403, "AccessDenied", "Request has expired")
    row = _visible_task(app, params["id"])
    index = int(params["index"])
    if row is None or index >= row.outputs or params["ext"] != row.format:
        return xml_error(404, "NoSuchKey")
    return Respond(
        200,
        app.files.image(row, index),
        CONTENT_TYPES[row.format],
        {"Accept-Ranges": "bytes"},
        output_file=True,
    )


def request_log(app: SandboxServer, request: Request, _: dict[str, str]) -> Respond:
    return json_response(200, app.request_log())


def set_faults(app: SandboxServer, request: Request, _: dict[str, str]) -> Respond:
    items, ok = parse_json(request.body or b"[]")
    if not ok or not isinstance(items, list):
        return error(400, "Bad fault list: send a JSON list of rule objects.")
    try:
        rules = [FaultRule.from_dict(item) for item in items]
    except (ValueError, TypeError, KeyError) as exc:
        return error(400, f"Bad fault list: {exc}")
    app.faults.replace(rules)
    return json_response(200, {"faults": len(rules)})


_ID = r"(?P<id>[^/]+)"
ROUTES: tuple[Route, ...] = tuple(
    Route(method, re.compile(pattern), handler, faults_after)
    for method, pattern, handler, faults_after in (
        ("POST", r"/v1/text_to_image", create_task, True),
        ("GET", rf"/v1/tasks/{_ID}", get_task, True),
        ("DELETE", rf"/v1/tasks/{_ID}", delete_task, False),
        ("POST", r"/v1/uploads", create_upload, True),
        ("GET", r"/v1/organization", organization, True),
        (
            "GET",
            r"/_sandbox/files/(?P<id>[0-9a-f-]{36})/(?P<index>[0-9]{1,4})\.(?P<ext>png|jpg|svg)",
            serve_file,
            True,
        ),
        ("POST", rf"/_sandbox/uploads/{_ID}", receive_upload, False),
        ("GET", r"/_sandbox/requests", request_log, False),
        ("POST", r"/_sandbox/faults", set_faults, False),
    )
)
