"""Which addresses a user-given URL may reach: public ones, plus the networks an operator allows.

The rule is applied to resolved addresses, never to host names, so every spelling of an address
(``2130706433``, ``0x7f.1``, ``[::ffff:127.0.0.1]``, a DNS name pointing at 10.0.0.5) meets the
same check. ``check_url`` is the early check at submit time; ``base.guarded_http`` applies the
same rule to the address each connection actually goes to, which is what defeats DNS rebinding.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

import httpx

from base.errors import UrlRefused, UrlUnreachable

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

SCHEMES = frozenset({"http", "https"})
# Special-purpose ranges that ipaddress's flags miss or misname on Python 3.11.
SHARED_CGNAT = IPv4Network("100.64.0.0/10")
IETF_PROTOCOL = IPv4Network("192.0.0.0/24")
METADATA = IPv4Address("169.254.169.254")
# IPv6 prefixes whose addresses carry an IPv4 address the packet may end up at.
NAT64 = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))
ALLOW_HINT = (
    "use a public URL, or upload the file instead; an operator can allow a network with "
    "BACKDROP_URL_ALLOW_NETWORKS (a JSON list of CIDRs, e.g. '[\"10.20.0.0/16\"]')"
)


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address a 6to4, Teredo or NAT64 address reaches (the mapped form is handled apart)."""
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # (server, client): the client is where traffic goes
    if any(address in prefix for prefix in NAT64):
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_class(address: IPAddress) -> str | None:
    """Why ``address`` is not public (e.g. ``"loopback"``), or None for a public address."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            inner = address_class(address.ipv4_mapped)
            return None if inner is None else f"IPv4-mapped {inner}"
        embedded = _embedded_ipv4(address)
        if embedded is not None and address_class(embedded) is not None:
            return f"{address_class(embedded)} (embedded IPv4 {embedded})"
        if address.is_site_local:
            return "site-local"
    checks: list[tuple[bool, str]] = [
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address == METADATA, "link-local (the cloud metadata service)"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, IPv4Address) and address in SHARED_CGNAT, "shared (carrier-grade NAT)"),
        (isinstance(address, IPv4Address) and address in IETF_PROTOCOL, "special-purpose (IETF)"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "not globally routable"),
    ]
    return next((name for hit, name in checks if hit), None)


def is_allowed(address: IPAddress, allow: Iterable[Network]) -> bool:
    """Whether an operator listed ``address`` (or the IPv4 address it maps) in the allow-list."""
    candidates: list[IPAddress] = [address]
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    return any(a.version == net.version and a in net for a in candidates for net in allow)


def check_address(address: IPAddress, allow: Sequence[Network], what: str) -> None:
    """Raise UrlRefused when ``address`` is neither public nor allowed; ``what`` names the URL."""
    reason = address_class(address)
    if reason is not None and not is_allowed(address, allow):
        raise UrlRefused(
            f"{what} leads to {address} ({reason}); Backdrop fetches only public addresses: {ALLOW_HINT}"
        )


def parse_address(text: str) -> IPAddress:
    """An address from getaddrinfo or getpeername, IPv6 zone (``%eth0``) dropped."""
    return ip_address(text.split("%", 1)[0])


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (the system resolver, so numeric tricks resolve as they would)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # Unique, in the resolver's order: the order is the connection preference.
    return list(dict.fromkeys(parse_address(str(info[4][0])) for info in infos))


def check_scheme(url: httpx.URL, what: str) -> None:
    """Raise UrlRefused unless ``url`` is absolute http(s) with a host."""
    if url.scheme not in SCHEMES:
        raise UrlRefused(
            f"{what}: only http and https URLs are fetched, not {url.scheme or 'a relative URL'!r}"
        )
    if not url.host:
        raise UrlRefused(f"{what}: the URL has no host")


def check_url(url: str, allow: Sequence[Network]) -> None:
    """Refuse ``url`` unless it is http(s) and every address its host resolves to is public or allowed.

    Resolves DNS (blocking); a name that does not resolve raises UrlUnreachable.
    """
    what = describe_url(url)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UrlRefused(f"{what} is not a valid URL ({exc})") from None
    check_scheme(parsed, what)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = resolve(parsed.raw_host.decode("ascii"), port)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlUnreachable(
            f"{what}: the host {parsed.host!r} does not resolve ({exc}); check the URL"
        ) from None
    for address in addresses:
        check_address(address, allow, what)


def describe_url(url: str | httpx.URL) -> str:
    """The URL for a message: query string and credentials left out (they may hold secrets)."""
    text = str(url)
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL:
        return repr(text[:100])
    port = f":{parsed.port}" if parsed.port else ""
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host}{port}{parsed.path}"[:200]
