"""The sandbox under hostile clients (issue 8): each test is the attacker, over a real socket.

People run the sandbox on their laptops and inside their own test suites: a web page the user
visits (DNS rebinding, cross-origin POSTs), a runaway client or a port scanner must not read
the request log, inject faults, grow the server's memory, smuggle requests, hold threads
forever or leak them after ``stop()``. Requests are written byte by byte with ``socket``, or
with ``http.client`` where the framing is not the point, never with runway-img's client.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any, BinaryIO

import pytest

from runway_cli.sandbox import FaultRule, RemoteSandboxWarning, SandboxServer, Timeline
from runway_cli.sandbox.guards import UPLOAD_FILE_LIMIT, create_body_limit
from runway_cli.sandbox.images import make_png
from runway_cli.wire import API_VERSION

KEY = "key_" + "e1f2" * 32
AUTH = f"Authorization: Bearer {KEY}"
VERSION = f"X-Runway-Version: {API_VERSION}"
CREATE = "/v1/text_to_image"
BODY = {"model": "gen4_image", "promptText": "a fox", "ratio": "720:720"}
DEADLINE = 10.0


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(keys=[KEY], timeline=Timeline(pending=0.05, running=0.1)) as server:
        yield server


def connect(sandbox: SandboxServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", sandbox.port), timeout=DEADLINE)


def head(method: str, path: str, *headers: str, host: str | None = "", body: bytes = b"") -> bytes:
    """A request's bytes: the Host is ``127.0.0.1:PORT`` unless given (None: no Host)."""
    lines = [f"{method} {path} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += headers
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def with_host(sandbox: SandboxServer, data: bytes) -> bytes:
    return data.replace(b"Host: \r\n", f"Host: 127.0.0.1:{sandbox.port}\r\n".encode(), 1)


_READERS: weakref.WeakKeyDictionary[socket.socket, BinaryIO] = weakref.WeakKeyDictionary()


def _reader(sock: socket.socket) -> BinaryIO:
    """One buffered reader per socket, so pipelined answers are read in turn."""
    if sock not in _READERS:
        _READERS[sock] = sock.makefile("rb")
    return _READERS[sock]


def answer(sock: socket.socket, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """Read one response off the socket: status, headers (lower-case names), body. (The
    sandbox always sends Content-Length.)"""
    reader = _reader(sock)
    line = reader.readline()
    assert line.startswith(b"HTTP/1.1 "), line
    status = int(line.split()[1])
    headers = {k.lower(): v for k, v in http.client.parse_headers(reader).items()}
    length = int(headers.get("content-length", "0"))
    body = reader.read(length) if method != "HEAD" else b""
    assert len(body) == length
    return status, headers, body


def exchange(
    sandbox: SandboxServer, data: bytes, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    with connect(sandbox) as sock:
        sock.sendall(with_host(sandbox, data))
        return answer(sock, method)


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed its side (EOF or a reset), within the deadline."""
    sock.settimeout(DEADLINE)
    reader = _reader(sock)
    try:
        while reader.read1(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def hang_up(sock: socket.socket) -> None:
    reader = _READERS.pop(sock, None)
    if reader is not None:
        reader.close()
    sock.close()


def json_post(path: str, payload: Any, *headers: str) -> bytes:
    data = json.dumps(payload).encode()
    return head(
        "POST", path, "Content-Type: application/json", f"Content-Length: {len(data)}",
        *headers, body=data,
    )  # fmt: skip


# -- every route needs its credentials; control routes take JSON only ----------------------------


ROUTES = [
    ("GET", "/v1/organization"),
    ("GET", "/v1/tasks/0b1c"),
    ("DELETE", "/v1/tasks/0b1c"),
    ("POST", CREATE),
    ("POST", "/v1/uploads"),
    ("GET", "/_sandbox/requests"),
    ("POST", "/_sandbox/faults"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    "credentials",
    [
        (),
        ("Authorization: Bearer key_wrong",),
        ("Authorization: Basic " + KEY,),
        (f"X-Key: {KEY}",),
    ],
    ids=["none", "wrong-key", "not-bearer", "elsewhere"],
)
def test_every_route_refuses_a_request_without_the_key(
    sandbox: SandboxServer, method: str, path: str, credentials: tuple[str, ...]
) -> None:
    status, _, body = exchange(
        sandbox, json_post(path, [], VERSION, *credentials) if method == "POST" else
        head(method, path, VERSION, *credentials), method,
    )  # fmt: skip
    assert status == 401, body
    assert KEY.encode() not in body
    assert sandbox.faults_taken() == 0 and sandbox.store.all_tasks() == []


def test_a_web_page_cannot_use_the_control_routes(sandbox: SandboxServer) -> None:
    """What a browser may send cross-origin without a preflight: a "simple" POST (text/plain,
    no Authorization) and a GET. Neither installs a rule (one that would lock the control
    routes out) or reads the log (prompts included)."""
    rule = json.dumps([{"action": "drop", "times": None}]).encode()
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        status, _, _ = exchange(
            sandbox,
            head(
                "POST", "/_sandbox/faults", f"Content-Type: {kind}", "Origin: http://evil.example",
                f"Content-Length: {len(rule)}", body=rule,
            ),
            "POST",
        )  # fmt: skip
        assert status == 401
    status, _, body = exchange(sandbox, head("GET", "/_sandbox/requests", "Origin: http://evil"))
    assert status == 401 and b"fox" not in body
    # Even with the key, only JSON is taken on a control route.
    status, _, _ = exchange(
        sandbox,
        head("POST", "/_sandbox/faults", AUTH, "Content-Type: text/plain",
             f"Content-Length: {len(rule)}", body=rule),
        "POST",
    )  # fmt: skip
    assert status == 415
    assert exchange(sandbox, head("GET", "/v1/organization", AUTH, VERSION))[0] == 200  # no rule
    status, _, body = exchange(sandbox, json_post("/_sandbox/faults", [], AUTH), "POST")
    assert (status, json.loads(body)) == (200, {"faults": 0})
    status, _, body = exchange(sandbox, head("GET", "/_sandbox/requests", AUTH))
    assert status == 200 and isinstance(json.loads(body), list)


# -- DNS rebinding: only this machine's names, with the port -----------------------------------


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("evil.example:{port}", 421),
        ("127.0.0.1", 421),
        ("127.0.0.1:1", 421),
        ("localhost.evil.example:{port}", 421),
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("LOCALHOST:{port}", 200),
        ("[::1]:{port}", 200),
        (None, 400),
    ],
)
def test_only_loopback_host_headers_with_the_port_are_answered(
    sandbox: SandboxServer, host: str | None, status: int
) -> None:
    with connect(sandbox) as sock:
        value = None if host is None else host.format(port=sandbox.port)
        sock.sendall(head("GET", "/v1/organization", AUTH, VERSION, host=value))
        got, headers, body = answer(sock)
        assert got == status, body
        if status != 200:
            assert headers.get("connection") == "close" and closed_by_server(sock)
            assert b"creditBalance" not in body


def test_two_host_headers_are_refused(sandbox: SandboxServer) -> None:
    request = head("GET", "/v1/organization", AUTH, VERSION, f"Host: evil.example:{sandbox.port}")
    assert exchange(sandbox, request)[0] == 400


# -- fault rules: checked when loaded, never on a control route ---------------------------------


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"action": "status", "retry_after": "1\r\nSet-Cookie: session=stolen"}, "retry_after"),
        ({"action": "status", "retry_after": "1\nX: y"}, "retry_after"),
        ({"action": "status", "retry_after": "é"}, "retry_after"),
        ({"action": "status", "retry_after": "9" * 100}, "retry_after"),
        ({"action": "status", "status": 99}, "status"),
        ({"action": "status", "status": 100}, "status"),
        ({"action": "status", "status": 600}, "status"),
        ({"action": "status", "status": True}, "wrong type"),
        ({"action": "delay", "delay": -0.5}, "delay"),
        ({"action": "delay", "delay": 1e300}, "delay"),
        ({"action": "body", "body": "DEEP"}, "nest"),
        ({"action": "drop", "method": "GET\r\n"}, "method"),
        ({"action": "drop", "path": "v1/tasks"}, "path"),
    ],
)
def test_fault_fields_are_checked_before_anything_reaches_a_response(
    sandbox: SandboxServer, rule: dict[str, Any], problem: str
) -> None:
    if rule.get("body") == "DEEP":  # JSON nested beyond the bound
        deep: Any = "x"
        for _ in range(100):
            deep = [deep]
        rule = {"action": "body", "body": deep}
    with pytest.raises(ValueError, match=problem):
        FaultRule.from_dict(rule)
    status, _, body = exchange(sandbox, json_post("/_sandbox/faults", [rule], AUTH), "POST")
    assert status == 400 and b"Bad fault list" in body
    assert exchange(sandbox, head("GET", "/v1/organization", AUTH, VERSION))[0] == 200


def test_a_no_content_status_goes_out_without_a_body(sandbox: SandboxServer) -> None:
    sandbox.faults.add(FaultRule(action="status", status=204, path="/v1/organization"))
    with connect(sandbox) as sock:
        sock.sendall(with_host(sandbox, head("GET", "/v1/organization", AUTH, VERSION)))
        sock.sendall(with_host(sandbox, head("GET", "/v1/organization", AUTH, VERSION)))
        first = answer(sock)
        assert first[0] == 204 and first[2] == b"" and first[1]["content-length"] == "0"
        assert answer(sock)[0] == 200  # the stream is intact after it


def test_a_fault_rule_never_matches_a_control_route(sandbox: SandboxServer) -> None:
    everything = [
        {"action": "drop", "times": None},
        {"action": "status", "status": 500, "path": "/_sandbox/*", "times": None},
        {"action": "empty_json", "path": "/_sandbox/requests", "times": None},
    ]
    status, _, _ = exchange(sandbox, json_post("/_sandbox/faults", everything, AUTH), "POST")
    assert status == 200
    status, _, body = exchange(sandbox, head("GET", "/_sandbox/requests", AUTH))
    assert status == 200 and json.loads(body)[0]["path"] == "/_sandbox/faults"
    with connect(sandbox) as sock:  # the API is faulted...
        sock.sendall(with_host(sandbox, head("GET", "/v1/organization", AUTH, VERSION)))
        assert sock.recv(100) == b""
    status, _, body = exchange(sandbox, json_post("/_sandbox/faults", [], AUTH), "POST")
    assert (status, json.loads(body)) == (200, {"faults": 0})  # ...and the rules can be lifted
    assert exchange(sandbox, head("GET", "/v1/organization", AUTH, VERSION))[0] == 200


# -- bodies: the key first, then a cap at the API's own limits -----------------------------------


def test_the_key_is_checked_before_a_single_body_byte_is_read(sandbox: SandboxServer) -> None:
    """A 200 MB POST without the key is answered from its headers alone (the body is never
    sent here) and the connection closed: nothing is read, kept, parsed or logged."""
    with connect(sandbox) as sock:
        sock.sendall(with_host(sandbox, head("POST", CREATE, VERSION, "Content-Length: 200000000",
                                              "Content-Type: application/json")))  # fmt: skip
        status, headers, _ = answer(sock, "POST")
        assert status == 401 and headers["connection"] == "close"
        assert closed_by_server(sock)
    (entry,) = sandbox.requests
    assert (entry["status"], entry["bytes"], entry["json"]) == (401, 0, None)


def test_100_continue_is_sent_only_once_the_checks_pass(sandbox: SandboxServer) -> None:
    body = json.dumps(BODY).encode()
    expect = ("Expect: 100-continue", f"Content-Length: {len(body)}")
    with connect(sandbox) as sock:  # no key: the final answer at once, and the body never asked
        sock.sendall(with_host(sandbox, head("POST", CREATE, VERSION, *expect)))
        status, headers, _ = answer(sock, "POST")
        assert (status, headers["connection"]) == (401, "close")
    with connect(sandbox) as sock:
        sock.sendall(with_host(sandbox, head("POST", CREATE, AUTH, VERSION, *expect)))
        assert _reader(sock).readline() == b"HTTP/1.1 100 Continue\r\n"
        assert _reader(sock).readline() == b"\r\n"
        sock.sendall(body)
        assert answer(sock, "POST")[0] == 200


def test_a_small_refused_body_is_dropped_and_the_connection_kept(sandbox: SandboxServer) -> None:
    with connect(sandbox) as sock:
        sock.sendall(with_host(sandbox, json_post(CREATE, BODY, VERSION)))  # no key
        sock.sendall(with_host(sandbox, head("GET", "/v1/organization", AUTH, VERSION)))
        assert answer(sock, "POST")[0] == 401
        assert answer(sock)[0] == 200
    assert sandbox.store.all_tasks() == []


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        (CREATE, create_body_limit()),
        ("/v1/uploads", 1024 * 1024),
        ("/_sandbox/faults", 1024 * 1024),
    ],
)
def test_bodies_over_the_limit_are_refused_from_their_length(
    sandbox: SandboxServer, path: str, limit: int
) -> None:
    with connect(sandbox) as sock:
        sock.sendall(with_host(sandbox, head(
            "POST", path, AUTH, VERSION, "Content-Type: application/json",
            f"Content-Length: {limit + 1}",
        )))  # fmt: skip
        status, headers, _ = answer(sock, "POST")
        assert status == 413 and headers["connection"] == "close"
        assert closed_by_server(sock)


def _upload_id(sandbox: SandboxServer) -> tuple[str, str]:
    status, _, body = exchange(
        sandbox, json_post("/v1/uploads", {"filename": "a.png", "type": "ephemeral"}, AUTH, VERSION),
        "POST",
    )  # fmt: skip
    assert status == 200, body
    created = json.loads(body)
    return created["uploadUrl"].rsplit("/", 1)[1], created["fields"]["policy"]


def _multipart(policy: str, data: bytes) -> tuple[str, bytes]:
    boundary = "sandbox-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="policy"\r\n\r\n{policy}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f"multipart/form-data; boundary={boundary}", body


def test_the_api_limits_themselves_are_accepted(sandbox: SandboxServer) -> None:
    """A 16 MiB upload and a create with a 5 MiB data URI: the caps sit above them."""
    upload_id, policy = _upload_id(sandbox)
    png = make_png("ref", 8, 8)
    kind, body = _multipart(policy, png + b"\0" * (UPLOAD_FILE_LIMIT - len(png)))
    status, _, text = exchange(sandbox, head(
        "POST", f"/_sandbox/uploads/{upload_id}", f"Content-Type: {kind}",
        f"Content-Length: {len(body)}", body=body,
    ), "POST")  # fmt: skip
    assert status == 204, text
    prefix = "data:image/png;base64,"
    uri = prefix + base64.b64encode(png).decode()
    uri += "A" * (5 * 1024 * 1024 - len(uri))
    refs = [{"uri": uri}]
    status, _, text = exchange(sandbox, json_post(CREATE, {**BODY, "referenceImages": refs},
                                                  AUTH, VERSION), "POST")  # fmt: skip
    assert status == 200, text[:300]


def test_an_upload_body_is_read_only_for_an_upload_the_api_issued(sandbox: SandboxServer) -> None:
    with connect(sandbox) as sock:
        sock.sendall(with_host(sandbox, head(
            "POST", "/_sandbox/uploads/not-issued", "Content-Type: multipart/form-data",
            "Content-Length: 16000000",
        )))  # fmt: skip
        status, _, body = answer(sock, "POST")
        assert status == 404 and b"NoSuchUpload" in body
        assert closed_by_server(sock)
    upload_id, _ = _upload_id(sandbox)
    with connect(sandbox) as sock:
        sock.sendall(with_host(sandbox, head(
            "POST", f"/_sandbox/uploads/{upload_id}", "Content-Type: multipart/form-data",
            f"Content-Length: {UPLOAD_FILE_LIMIT + 1024 * 1024}",
        )))  # fmt: skip
        assert answer(sock, "POST")[0] == 413


def test_the_request_log_is_bounded_in_entries_and_bytes() -> None:
    with SandboxServer(keys=[KEY], log_limit=50, log_bytes=10_000, daily_limit=None) as sandbox:
        for i in range(8):
            body = {**BODY, "promptText": f"{i} " + "x" * 900}
            assert exchange(sandbox, json_post(CREATE, body, AUTH, VERSION), "POST")[0] == 200
        log = sandbox.requests
        assert sum(e["bytes"] for e in log) <= 10_000
        assert [e["json"]["promptText"][0] for e in log] == [str(i) for i in range(8 - len(log), 8)]
        for i in range(60):
            exchange(sandbox, head("GET", f"/v1/tasks/t{i}", AUTH, VERSION))
        assert len(sandbox.requests) == 50


# -- framing: no request smuggling ---------------------------------------------------------------


def _chunked(data: bytes, size: int = 7) -> bytes:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return (
        b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\nX-Trailer: 1\r\n\r\n"
    )


def test_a_chunked_body_is_decoded(sandbox: SandboxServer) -> None:
    body = _chunked(json.dumps(BODY).encode())
    with connect(sandbox) as sock:
        sock.sendall(with_host(sandbox, head(
            "POST", CREATE, AUTH, VERSION, "Content-Type: application/json",
            "Transfer-Encoding: chunked", body=body,
        )))  # fmt: skip
        sock.sendall(with_host(sandbox, head("GET", "/v1/organization", AUTH, VERSION)))
        status, _, text = answer(sock, "POST")
        assert status == 200, text
        assert answer(sock)[0] == 200  # the next request on the connection is read as sent
    assert [r.prompt for r in sandbox.store.all_tasks()] == ["a fox"]


SMUGGLED = head("GET", "/_sandbox/requests", AUTH)


@pytest.mark.parametrize(
    "framing",
    [
        ("Transfer-Encoding: chunked", f"Content-Length: {len(SMUGGLED) + 5}"),
        ("Content-Length: 5", f"Content-Length: {len(SMUGGLED) + 5}"),
        ("Transfer-Encoding: gzip, chunked",),
        ("Transfer-Encoding: chunked", "Transfer-Encoding: identity"),
        ("Content-Length: -5",),
        ("Content-Length: 0x10",),
    ],
    ids=["te-and-cl", "two-lengths", "te-not-chunked", "two-te", "negative", "hex"],
)
def test_ambiguous_framing_is_refused_and_the_connection_closed(
    sandbox: SandboxServer, framing: tuple[str, ...]
) -> None:
    """The classic desyncs: whatever the body "really" was, no second request runs."""
    smuggled = with_host(sandbox, SMUGGLED)
    with connect(sandbox) as sock:
        sock.sendall(with_host(sandbox, head("POST", CREATE, AUTH, VERSION, *framing)))
        sock.sendall(b"0\r\n\r\n" + smuggled)
        status, headers, _ = answer(sock, "POST")
        assert status in (400, 501) and headers["connection"] == "close"
        assert closed_by_server(sock)
    assert [e["path"] for e in sandbox.requests] == [CREATE]


@pytest.mark.parametrize(
    ("chunks", "status"),
    [
        (b"fffffffff\r\n", 413),  # one chunk announced over the cap: refused before it is sent
        (b"zz\r\nab\r\n0\r\n\r\n", 400),
        (b"2\r\nabcd0\r\n\r\n", 400),
        (b"2" * 2000 + b"\r\n", 400),
    ],
    ids=["over-cap", "not-hex", "no-crlf", "long-size-line"],
)
def test_bad_or_oversized_chunks_are_refused(
    sandbox: SandboxServer, chunks: bytes, status: int
) -> None:
    with connect(sandbox) as sock:
        sock.sendall(with_host(sandbox, head(
            "POST", CREATE, AUTH, VERSION, "Transfer-Encoding: chunked", body=chunks,
        )))  # fmt: skip
        got, headers, _ = answer(sock, "POST")
        assert (got, headers["connection"]) == (status, "close")
        assert closed_by_server(sock)


# -- parsing: deep JSON is a 400 -----------------------------------------------------------------


@pytest.mark.parametrize("depth", [100, 100_000])
@pytest.mark.parametrize("path", [CREATE, "/_sandbox/faults"])
def test_deeply_nested_json_is_a_400(sandbox: SandboxServer, depth: int, path: str) -> None:
    nested = b"[" * depth + b"]" * depth
    status, _, body = exchange(sandbox, head(
        "POST", path, AUTH, VERSION, "Content-Type: application/json",
        f"Content-Length: {len(nested)}", body=nested,
    ), "POST")  # fmt: skip
    assert status == 400, body
    status, _, body = exchange(sandbox, head("GET", "/_sandbox/requests", AUTH))
    assert status == 200 and json.loads(body)[0]["json"] is None  # the log still serialises


# -- connections: timeouts, a cap, and stop() ----------------------------------------------------


def _wait_for(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        threading.Event().wait(0.01)


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /v1/organization HTTP/1.1\r\nHost: 127.0.0.1", b"POST /v1/uploads HTTP/1.1\r\n"],
    ids=["idle", "half-sent-headers", "half-sent-line"],
)
def test_idle_and_half_sent_connections_are_closed(sent: bytes) -> None:
    with SandboxServer(keys=[KEY], idle_timeout=0.1) as sandbox, connect(sandbox) as sock:
        sock.sendall(sent)
        _wait_for(lambda: sandbox.open_connections == 1, "the connection to be accepted")
        assert closed_by_server(sock)
        _wait_for(lambda: sandbox.open_connections == 0, "its thread to end")


def test_a_half_sent_body_is_given_up_on() -> None:
    with SandboxServer(keys=[KEY], idle_timeout=0.1) as sandbox, connect(sandbox) as sock:
        sock.sendall(with_host(sandbox, head(
            "POST", CREATE, AUTH, VERSION, "Content-Length: 100", body=b'{"model": ',
        )))  # fmt: skip
        assert closed_by_server(sock)
        _wait_for(lambda: sandbox.open_connections == 0, "its thread to end")
        assert sandbox.store.all_tasks() == []


def test_connections_over_the_cap_get_a_503_and_the_rest_keep_working() -> None:
    with SandboxServer(keys=[KEY], max_connections=4) as sandbox:
        held = [connect(sandbox) for _ in range(4)]
        _wait_for(lambda: sandbox.open_connections == 4, "four open connections")
        with connect(sandbox) as extra:
            status, headers, _ = answer(extra)
            assert status == 503 and headers["retry-after"] == "1"
        held[0].sendall(with_host(sandbox, head("GET", "/v1/organization", AUTH, VERSION)))
        assert answer(held[0])[0] == 200  # the held ones are served
        for sock in held:
            hang_up(sock)
        _wait_for(lambda: sandbox.open_connections == 0, "the held connections to close")
        assert exchange(sandbox, head("GET", "/v1/organization", AUTH, VERSION))[0] == 200


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_stop_closes_kept_alive_connections_and_leaks_no_thread_or_descriptor() -> None:
    def one_round() -> None:
        sandbox = SandboxServer(keys=[KEY]).start()
        conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=DEADLINE)
        conn.request("GET", "/v1/organization", headers={"Authorization": f"Bearer {KEY}",
                                                          "X-Runway-Version": API_VERSION})  # fmt: skip
        assert conn.getresponse().read()  # the connection stays open (keep-alive)...
        sandbox.stop()
        assert conn.sock is not None and closed_by_server(conn.sock)  # ...until stop()
        hang_up(conn.sock)
        conn.close()

    one_round()  # warm up (imports, caches)
    threads, fds = threading.active_count(), _fds()
    for _ in range(30):
        one_round()
    assert threading.active_count() == threads
    assert _fds() == fds


def test_stop_does_not_wait_for_a_delay_fault_in_flight() -> None:
    sandbox = SandboxServer(keys=[KEY], faults=[FaultRule(action="delay", delay=3600)]).start()
    sock = connect(sandbox)
    sock.sendall(with_host(sandbox, head("GET", "/v1/organization", AUTH, VERSION)))
    _wait_for(lambda: sandbox.faults_taken() == 1, "the delay to begin")
    started = time.monotonic()
    sandbox.stop()
    assert time.monotonic() - started < 5
    assert closed_by_server(sock)
    sock.close()


# -- binding: loopback unless asked ----------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "", "192.0.2.1"])  # noqa: S104
def test_binding_beyond_loopback_is_refused_unless_allowed(host: str) -> None:
    with pytest.raises(ValueError, match="allow_remote=True"):
        SandboxServer(keys=[KEY], host=host)


def test_allow_remote_binds_everywhere_with_a_warning() -> None:
    with pytest.warns(RemoteSandboxWarning, match=r"0\.0\.0\.0"):
        sandbox = SandboxServer(keys=[KEY], host="0.0.0.0", allow_remote=True)  # noqa: S104
    with sandbox:
        assert sandbox.base_url == f"http://127.0.0.1:{sandbox.port}"
        request = head("GET", "/v1/organization", AUTH, VERSION, host=f"box.lan:{sandbox.port}")
        assert exchange(sandbox, request)[0] == 200  # any Host: the key is the defence
        assert exchange(sandbox, head("GET", "/v1/organization", VERSION))[0] == 401
