"""A throwaway HTTP(S) server on 127.0.0.1 in a thread: fixed routes in, recorded requests out."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Route:
    """One canned answer; ``length=False`` leaves out Content-Length (the body ends at close)."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    length: bool = True
    delay_s: float = 0.0  # before the status line: a server that is slow to answer
    drip_s: float = 0.0  # between the body's bytes: a server that sends one byte at a time


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalServer:
    base_url: str
    requests: list[Recorded] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path


def _handler(routes: Mapping[str, Route], server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so a body without Content-Length ends at close.
        protocol_version = "HTTP/1.0"

        def _answer(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(size) if size else b""
            server.requests.append(
                Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            route = routes.get(self.path.split("?", 1)[0], Route(404, b"not found"))
            time.sleep(route.delay_s)
            self.send_response(route.status)
            for name, value in route.headers:
                self.send_header(name, value)
            if route.length:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            if not route.drip_s:
                self.wfile.write(route.body)
                return
            for byte in route.body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(route.drip_s)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read ``requests`` instead."""

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up mid-answer (a timeout test) is expected, not an error."""


@contextmanager
def serving(routes: Mapping[str, Route], tls: ssl.SSLContext | None = None) -> Iterator[LocalServer]:
    """Serve ``routes`` on a free 127.0.0.1 port (HTTPS with ``tls``) until the block ends."""
    server = LocalServer("")
    httpd = _QuietServer(("127.0.0.1", 0), _handler(routes, server))
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    server.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1/localhost and the PEM file a client must trust for it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert
