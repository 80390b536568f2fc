"""httpx clients for user-given URLs whose every connection goes only where ``base.ssrf`` allows.

The check sits in the httpcore network backend, the one place that sees the addresses a connection
really uses: the host is resolved once, every address is checked, the socket is opened to a checked
address (not to the name, so no second lookup can answer differently) and the connected peer is
checked again. A checked name cannot be rebound between the check and the connect, and redirects
(followed by hand in ``stream_url``) open their connections through the same backend.

httpx 0.28 takes no network backend of its own, so the transports here drive an httpcore pool
directly, as ``httpx.HTTPTransport`` does, mapping httpcore's errors onto httpx's.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import httpcore
import httpx

from base import __version__
from base.errors import UrlUnreachable
from base.settings import Settings
from base.ssrf import (
    IPAddress,
    Network,
    check_address,
    check_scheme,
    describe_url,
    parse_address,
    resolve,
)

MAX_REDIRECTS = 5
USER_AGENT = f"Backdrop/{__version__}"
LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0)


class _DeadlinePassed(httpcore.TimeoutException):
    """httpcore's side of ``TransferDeadline``."""


class TransferDeadline(httpx.TimeoutException):
    """The whole transfer (not one read) ran past its ``transfer_deadline``."""


T = TypeVar("T")
# When the transfer under way must be over (time.monotonic()), or None: set by ``transfer_deadline``.
_DEADLINE: ContextVar[float | None] = ContextVar("backdrop_transfer_deadline", default=None)


@contextmanager
def transfer_deadline(seconds: float) -> Iterator[None]:
    """Every read and write of the guarded connections inside the block ends by ``seconds`` from now:
    a server that sends one byte just before each read timeout cannot hold a transfer longer."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _left(timeout: float | None) -> float | None:
    """``timeout`` cut to what is left of the transfer's deadline (a wait that ends there raises
    ``_DeadlinePassed``, not the timeout of a single read)."""
    end = _DEADLINE.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise _DeadlinePassed("the transfer did not finish before its deadline")
    return left if timeout is None else min(timeout, left)


def _within(wait: Callable[[float | None], T], timeout: float | None) -> T:
    """``wait(timeout)`` with the timeout cut to the transfer's deadline; a timeout that the deadline
    cut short is the deadline's."""
    cut = _left(timeout)
    try:
        return wait(cut)
    except httpcore.TimeoutException:
        if _DEADLINE.get() is not None and cut != timeout:
            raise _DeadlinePassed("the transfer did not finish before its deadline") from None
        raise


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every wait ends by the transfer's deadline, if one is set."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _within(lambda cut: self.inner.read(max_bytes, cut), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _within(lambda cut: self.inner.write(buffer, cut), timeout)

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            _within(lambda cut: self.inner.start_tls(ssl_context, server_hostname, cut), timeout)
        )

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


# Most specific first: the first match wins.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (_DeadlinePassed, TransferDeadline),
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.ProxyError, httpx.ProxyError),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """Re-raise httpcore's errors as httpx's, so callers catch one family; ours pass unchanged."""
    try:
        yield
    except Exception as exc:
        for source, target in _ERRORS:
            if isinstance(exc, source):
                raise target(str(exc)) from exc
        raise


def _check_peer(
    stream: httpcore.NetworkStream | httpcore.AsyncNetworkStream, host: str, allow: Sequence[Network]
) -> None:
    """The address the socket is really connected to must pass too (belt and braces after the connect)."""
    peer = stream.get_extra_info("server_addr")
    if not isinstance(peer, tuple) or not peer:
        raise httpcore.ConnectError(f"cannot tell which address {host} connected to; refusing the connection")
    check_address(parse_address(str(peer[0])), allow, f"the host {host}")


def _checked_addresses(infos: Iterable[IPAddress], host: str, allow: Sequence[Network]) -> list[IPAddress]:
    """All of ``host``'s addresses, or UrlRefused if any is not allowed (a mixed answer is suspect)."""
    addresses = list(infos)
    for address in addresses:
        check_address(address, allow, f"the host {host}")
    if not addresses:
        raise httpcore.ConnectError(f"{host} resolves to no address")
    return addresses


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's blocking backend, connecting only to addresses that are public or allowed."""

    def __init__(self, allow: Sequence[Network], inner: httpcore.NetworkBackend | None = None) -> None:
        self.allow = tuple(allow)
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = _checked_addresses(resolve(host, port), host, self.allow)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from exc
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                target = str(address)
                stream = _within(
                    lambda cut: self.inner.connect_tcp(target, port, cut, local_address, socket_options),  # noqa: B023
                    timeout,
                )
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            try:
                _check_peer(stream, host, self.allow)
            except BaseException:
                stream.close()
                raise
            return _DeadlineStream(stream)
        raise failure or httpcore.ConnectError(f"could not connect to {host}")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def _core_request(request: httpx.Request, content: Iterable[bytes]) -> httpcore.Request:
    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(
            scheme=request.url.raw_scheme,
            host=request.url.raw_host,
            port=request.url.port,
            target=request.url.raw_path,
        ),
        headers=request.headers.raw,
        content=content,
        extensions=request.extensions,
    )


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class GuardedTransport(httpx.BaseTransport):
    """A blocking httpx transport over an httpcore pool whose connections use ``GuardedBackend``."""

    def __init__(
        self, allow: Sequence[Network], ssl_context: ssl.SSLContext, limits: httpx.Limits = LIMITS
    ) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.SyncByteStream):
            raise TypeError("a blocking transport needs a blocking request body")
        with _as_httpx_errors():
            response = self._pool.handle_request(_core_request(request, request.stream))
        if not isinstance(response.stream, Iterable):
            raise TypeError("httpcore's blocking pool answered with an async body")
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def ssl_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """certifi's CAs (as httpx uses by default), plus an operator's own CA file when given."""
    # trust_env=False: SSL_CERT_FILE and friends are read through Settings, not behind its back.
    context = httpx.create_ssl_context(trust_env=False)
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def _client_options(timeout_s: float) -> dict[str, Any]:
    # trust_env=False: no proxy from the environment (a proxy would make the peer check meaningless)
    # and no .netrc credentials sent to a user's URL. Redirects are followed by hand (stream_url).
    return {
        "timeout": httpx.Timeout(timeout_s),
        "follow_redirects": False,
        "trust_env": False,
        "headers": {"User-Agent": USER_AGENT},
    }


def guarded_client(allow: Sequence[Network], timeout_s: float, ca_file: Path | None = None) -> httpx.Client:
    """A blocking client that reaches only public addresses and the ``allow`` networks."""
    return httpx.Client(transport=GuardedTransport(allow, ssl_context(ca_file)), **_client_options(timeout_s))


def client_for(settings: Settings) -> httpx.Client:
    """The blocking guarded client configured by ``settings`` (allow-list, timeout, extra CAs)."""
    return guarded_client(settings.url_allow_networks, settings.url_timeout_s, settings.url_ca_file)


@contextmanager
def stream_url(
    client: httpx.Client, url: str, max_redirects: int = MAX_REDIRECTS
) -> Iterator[httpx.Response]:
    """GET ``url`` with its body unread, following up to ``max_redirects`` redirects, each hop re-checked.

    The final response is yielded whatever its status; it is closed on exit.
    """
    request = client.build_request("GET", url)
    check_scheme(request.url, describe_url(url))
    for _ in range(max_redirects + 1):
        response = client.send(request, stream=True)
        following = response.next_request
        if following is None:
            try:
                yield response
            finally:
                response.close()
            return
        response.close()
        check_scheme(following.url, f"the redirect from {describe_url(request.url)}")
        request = following
    raise UrlUnreachable(
        f"{describe_url(url)} redirected more than {max_redirects} times; give the final URL"
    )
