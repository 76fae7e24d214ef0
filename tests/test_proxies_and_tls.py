"""Networks people really have (issue 9): an HTTPS proxy, a private CA, ``NO_PROXY``.

A throwaway self-signed certificate for 127.0.0.1 (made with the ``openssl`` CLI), the sandbox
serving HTTPS with it, and a tiny CONNECT proxy that records where it was asked to tunnel and
every byte a client sent it. A real ``runway-img generate`` runs in-process against them: the
image is saved, the proxy tunnelled to the sandbox, and the key never crossed the proxy in the
clear. Plain-http sandboxes (loopback only) are never sent through a proxy at all.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from runway_cli.sandbox import SandboxServer
from runway_cli.sandbox.images import png_size
from tests.conftest import FAST, KEY, CliRun
from tests.helpers import api_headers

_NETWORK_ENV = (
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
    "NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE",
)  # fmt: skip


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for IP 127.0.0.1, and its key (EC: made in milliseconds)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_sandbox(certificate: tuple[Path, Path]) -> Iterator[SandboxServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with SandboxServer(keys=[KEY], timeline=FAST, ssl_context=context) as server:
        yield server


class ConnectProxy:
    """An HTTP proxy that only tunnels (``CONNECT``); any other request gets a 502. It keeps
    the CONNECT targets, the heads of other requests, and every byte clients sent it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.targets: list[str] = []
        self.plain: list[bytes] = []
        self.seen = bytearray()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
            self._spawn(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(65536)
            if not data:
                return
            head += data
            with self._lock:
                self.seen += data
        if not head.startswith(b"CONNECT "):
            with self._lock:
                self.plain.append(head)
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        target = head.split()[1].decode()
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)), timeout=30)
        with self._lock:
            self.targets.append(target)
            self._sockets.append(upstream)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self._spawn(self._pipe, upstream, client, False)
        self._pipe(client, upstream, True)

    def _pipe(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if from_client:
                    with self._lock:
                        self.seen += data
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
        self.listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in threads:
            thread.join(5)


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    server = ConnectProxy()
    try:
        yield server
    finally:
        server.close()


def network_env(env: dict[str, str], **values: str) -> dict[str, str]:
    """The test's environment without the developer's proxies and CAs, plus ``values``."""
    clean = {k: v for k, v in env.items() if k not in _NETWORK_ENV}
    return {**clean, **values}


@pytest.mark.parametrize("ca_variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_generate_through_an_https_proxy_with_a_private_ca(
    cli: CliRun,
    env: dict[str, str],
    workdir: Path,
    tls_sandbox: SandboxServer,
    proxy: ConnectProxy,
    certificate: tuple[Path, Path],
    ca_variable: str,
) -> None:
    run_env = network_env(
        env,
        RUNWAYML_BASE_URL=tls_sandbox.base_url,
        RUNWAYML_API_SECRET=KEY,
        HTTPS_PROXY=proxy.url,
        **{ca_variable: str(certificate[0])},
    )
    r = cli("generate", "a lighthouse at dusk", "--ratio", "1280:720", "-o", "out.png", env=run_env)
    assert r.code == 0, r
    assert png_size((workdir / "out.png").read_bytes()) == (1280, 720)
    assert tls_sandbox.base_url.startswith("https://")
    assert set(proxy.targets) == {f"127.0.0.1:{tls_sandbox.port}"}  # the API and the file
    assert proxy.plain == []
    assert KEY.encode() not in proxy.seen and b"Authorization" not in proxy.seen
    assert tls_sandbox.count("POST", "/v1/text_to_image") == 1


def test_no_proxy_bypasses_the_proxy(
    cli: CliRun,
    env: dict[str, str],
    workdir: Path,
    tls_sandbox: SandboxServer,
    proxy: ConnectProxy,
    certificate: tuple[Path, Path],
) -> None:
    run_env = network_env(
        env,
        RUNWAYML_BASE_URL=tls_sandbox.base_url,
        RUNWAYML_API_SECRET=KEY,
        HTTPS_PROXY=proxy.url,
        NO_PROXY="127.0.0.1",
        REQUESTS_CA_BUNDLE=str(certificate[0]),
    )
    r = cli("generate", "a harbour", "-o", "out.png", env=run_env)
    assert r.code == 0, r
    assert (workdir / "out.png").read_bytes().startswith(b"\x89PNG")
    assert proxy.targets == [] and proxy.plain == [] and not proxy.seen


def test_a_plain_http_sandbox_is_never_sent_through_a_proxy(
    cli: CliRun,
    env: dict[str, str],
    workdir: Path,
    sandbox: SandboxServer,
    proxy: ConnectProxy,
) -> None:
    """Plain http is allowed only to this machine, and never via a proxy, which would read the
    key in the clear: the proxy sees nothing, whatever the environment says."""
    run_env = network_env(
        env,
        RUNWAYML_BASE_URL=sandbox.base_url,
        RUNWAYML_API_SECRET=KEY,
        HTTP_PROXY=proxy.url,
        http_proxy=proxy.url,
        ALL_PROXY=proxy.url,
        HTTPS_PROXY=proxy.url,
    )
    r = cli("generate", "a harbour", "-o", "out.png", env=run_env)
    assert r.code == 0, r
    assert (workdir / "out.png").read_bytes().startswith(b"\x89PNG")
    assert proxy.targets == [] and proxy.plain == [] and not proxy.seen


def test_without_the_ca_the_certificate_is_refused(
    cli: CliRun, env: dict[str, str], tls_sandbox: SandboxServer
) -> None:
    """The control: the CA variables are what makes the tests above pass."""
    run_env = network_env(env, RUNWAYML_BASE_URL=tls_sandbox.base_url, RUNWAYML_API_SECRET=KEY)
    r = cli("generate", "a harbour", "--no-wait", env=run_env)
    assert r.code != 0, r
    assert tls_sandbox.count("POST", "/v1/text_to_image") == 0


def test_a_certificate_failure_says_nothing_was_sent_and_names_the_certificate(
    cli: CliRun, env: dict[str, str], tls_sandbox: SandboxServer
) -> None:
    run_env = network_env(env, RUNWAYML_BASE_URL=tls_sandbox.base_url, RUNWAYML_API_SECRET=KEY)
    r = cli("generate", "a harbour", "--no-wait", env=run_env)
    assert "may have reached" not in r.stderr, r
    assert "certificate" in r.stderr.lower(), r


# -- the TLS server itself ------------------------------------------------------------------------


def test_a_stalled_handshake_does_not_hold_up_other_clients(
    tls_sandbox: SandboxServer, certificate: tuple[Path, Path]
) -> None:
    """The handshake runs in the connection's thread, not in the accept loop."""
    with socket.create_connection(("127.0.0.1", tls_sandbox.port), timeout=10) as stalled:
        stalled.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
        answer = requests.get(
            f"{tls_sandbox.base_url}/v1/organization",
            headers=api_headers(KEY),
            verify=str(certificate[0]),
            timeout=10,
        )
        assert answer.status_code == 200


def test_plain_http_to_the_tls_port_gets_no_answer(tls_sandbox: SandboxServer) -> None:
    with socket.create_connection(("127.0.0.1", tls_sandbox.port), timeout=10) as sock:
        sock.sendall(
            f"GET /v1/organization HTTP/1.1\r\nHost: 127.0.0.1:{tls_sandbox.port}\r\n\r\n".encode()
        )
        with contextlib.suppress(ConnectionResetError):
            assert b"creditBalance" not in sock.recv(65536)
