"""The guarded httpx clients against a real server on 127.0.0.1: the check sits on every connection."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from base.errors import UrlRefused, UrlUnreachable
from base.guarded_http import GuardedBackend, client_for, guarded_client, stream_url
from base.settings import Settings
from base.ssrf import check_url
from tests.local_http import Route, self_signed, serving

LOCAL = (ip_network("127.0.0.1/32"),)
PUBLIC = "93.184.215.14"


def test_an_allowed_network_is_fetched() -> None:
    with (
        serving({"/a": Route(body=b"hello")}) as server,
        guarded_client(LOCAL, 5) as client,
        stream_url(client, server.url("/a")) as response,
    ):
        assert response.status_code == 200
        assert response.read() == b"hello"


def test_without_the_allow_list_nothing_is_sent() -> None:
    with serving({"/a": Route(body=b"hello")}) as server, guarded_client((), 5) as client:
        for url in (server.url("/a"), server.url("/a").replace("127.0.0.1", "localhost")):
            with pytest.raises(UrlRefused, match="loopback"), stream_url(client, url):
                pass
        assert server.requests == []


def test_a_rebound_name_is_caught_at_connect_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The name is public when checked at submit time and loopback when the worker connects."""
    answers = iter([PUBLIC, "127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "rebind.example":
            return real(next(answers), port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with serving({"/a": Route(body=b"secret")}) as server, guarded_client((), 5) as client:
        url = server.url("/a").replace("127.0.0.1", "rebind.example")
        check_url(url, ())  # the early check sees the public answer
        with pytest.raises(UrlRefused, match="loopback"), stream_url(client, url):
            pass
        assert server.requests == []


class _Misrouting(httpcore.SyncBackend):
    """A network path that lands somewhere other than the address asked for (NAT, a hijacked route)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return super().connect_tcp("127.0.0.1", self.port, timeout, local_address, socket_options)


def test_the_connected_peer_is_checked_not_just_the_address_asked_for() -> None:
    with serving({}) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        backend = GuardedBackend((), inner=_Misrouting(port))
        with pytest.raises(UrlRefused, match=r"127\.0\.0\.1 \(loopback\)"):
            backend.connect_tcp(PUBLIC, 80, timeout=5)


@pytest.mark.parametrize(
    "target",
    ["http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://10.0.0.7/", "http://127.0.0.2:9/"],
)
def test_a_redirect_to_a_refused_address_is_refused(target: str) -> None:
    routes = {"/go": Route(302, headers=(("Location", target),))}
    with (
        serving(routes) as server,
        guarded_client(LOCAL, 5) as client,
        pytest.raises(UrlRefused),
        stream_url(client, server.url("/go")),
    ):
        pass


def test_a_redirect_to_another_scheme_is_refused() -> None:
    routes = {"/go": Route(301, headers=(("Location", "file:///etc/passwd"),))}
    with (
        serving(routes) as server,
        guarded_client(LOCAL, 5) as client,
        pytest.raises(UrlRefused, match="only http and https"),
        stream_url(client, server.url("/go")),
    ):
        pass


def _chain(hops: int) -> dict[str, Route]:
    routes = {f"/r{i}": Route(302, headers=(("Location", f"/r{i + 1}"),)) for i in range(hops)}
    routes[f"/r{hops}"] = Route(body=b"end")
    return routes


def test_five_redirects_are_followed_and_a_sixth_is_not() -> None:
    with (
        serving(_chain(5)) as server,
        guarded_client(LOCAL, 5) as client,
        stream_url(client, server.url("/r0")) as response,
    ):
        assert response.read() == b"end"
    with (
        serving(_chain(6)) as server,
        guarded_client(LOCAL, 5) as client,
        pytest.raises(UrlUnreachable, match="more than 5"),
        stream_url(client, server.url("/r0")),
    ):
        pass


def test_proxies_from_the_environment_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy would hide the real destination from the peer check."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    with (
        serving({"/a": Route(body=b"direct")}) as server,
        guarded_client(LOCAL, 5) as client,
        stream_url(client, server.url("/a")) as response,
    ):
        assert response.read() == b"direct"


def test_an_operator_ca_file_is_trusted_for_https(tmp_path: Path) -> None:
    tls, ca_file = self_signed(tmp_path)
    with serving({"/a": Route(body=b"tls")}, tls=tls) as server:
        settings = Settings(url_allow_networks=["127.0.0.1/32"], url_ca_file=ca_file)
        with client_for(settings) as client, stream_url(client, server.url("/a")) as response:
            assert response.read() == b"tls"
        without_ca = Settings(url_allow_networks=["127.0.0.1/32"])
        with (
            client_for(without_ca) as client,
            pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
            stream_url(client, server.url("/a")),
        ):
            pass
