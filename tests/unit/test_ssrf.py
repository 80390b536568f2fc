"""The SSRF rule: which addresses a user-given URL may reach, however the address is spelled."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from base.errors import InputError, UrlRefused
from base.ssrf import address_class, check_url, describe_url, is_allowed

LOOPBACK = (ip_network("127.0.0.0/8"),)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("192.0.0.8", "special-purpose"),
        ("224.0.0.1", "multicast"),
        ("233.252.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "private"),  # documentation range
        ("198.18.0.1", "private"),  # benchmarking range
        ("2001:db8::1", "private"),  # documentation range
        ("fec0::1", "site-local"),
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("::ffff:169.254.169.254", "IPv4-mapped link-local"),
        ("::ffff:10.0.0.1", "IPv4-mapped private"),
        ("::127.0.0.1", "reserved"),  # the deprecated IPv4-compatible form
        ("2002:7f00:1::", "loopback (embedded IPv4 127.0.0.1)"),  # 6to4
        ("2002:a00:1::", "private (embedded IPv4 10.0.0.1)"),
        ("64:ff9b::7f00:1", "loopback (embedded IPv4 127.0.0.1)"),  # NAT64
        ("64:ff9b::a9fe:a9fe", "embedded IPv4 169.254.169.254"),
    ],
)
def test_non_public_addresses_are_named(address: str, expected: str) -> None:
    reason = address_class(ip_address(address))
    assert reason is not None
    assert expected in reason


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.215.14", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::"]
)
def test_public_addresses_pass(address: str) -> None:
    assert address_class(ip_address(address)) is None


def test_the_allow_list_admits_its_networks_and_their_mapped_forms() -> None:
    allow = (ip_network("127.0.0.0/8"), ip_network("fd00:1::/32"))
    assert is_allowed(ip_address("127.0.0.1"), allow)
    assert is_allowed(ip_address("::ffff:127.0.0.1"), allow)
    assert is_allowed(ip_address("fd00:1::5"), allow)
    assert not is_allowed(ip_address("10.0.0.1"), allow)
    assert not is_allowed(ip_address("::1"), allow)  # IPv6 loopback is a network of its own
    assert not is_allowed(ip_address("fd00:2::5"), allow)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "https://127.0.0.1:8443/video.mp4",
        "http://localhost/",
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f.1/",  # hexadecimal and a short form
        "http://127.1/",
        "http://0/",  # 0.0.0.0, which reaches the local host on Linux
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://10.0.0.1/",
        "http://[fd00::1]/",
        "http://100.64.0.1/",
        "https://user:pass@192.168.0.1/",
    ],
)
def test_urls_that_reach_inside_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused, match="BACKDROP_URL_ALLOW_NETWORKS"):
        check_url(url, ())


def test_octal_forms_are_refused_too() -> None:
    # httpx's URL parser rejects the leading-zero form before any lookup; either way it is not fetched.
    with pytest.raises(UrlRefused):
        check_url("http://0177.0.0.1/", ())


@pytest.mark.parametrize(
    "url", ["ftp://example.com/a.mp4", "file:///etc/passwd", "gopher://example.com/", "javascript:alert(1)"]
)
def test_only_http_and_https_are_fetched(url: str) -> None:
    with pytest.raises(UrlRefused, match="only http and https"):
        check_url(url, ())


def test_a_url_without_a_host_is_refused() -> None:
    with pytest.raises(UrlRefused, match="no host"):
        check_url("http:///video.mp4", ())


def test_public_addresses_are_let_through() -> None:
    check_url("https://93.184.215.14/video.mp4", ())
    check_url("http://[2606:4700::1111]:8080/a.mp4", ())


def test_the_allow_list_lets_operators_reach_a_private_network() -> None:
    check_url("http://127.0.0.1:8000/clip.mp4", LOOPBACK)
    check_url("http://2130706433/", LOOPBACK)
    check_url("http://[::ffff:127.0.0.1]/", LOOPBACK)
    with pytest.raises(UrlRefused, match="private"):
        check_url("http://10.0.0.1/", LOOPBACK)


def test_the_refusal_is_a_job_failure_with_a_stable_code() -> None:
    with pytest.raises(UrlRefused) as caught:
        check_url("http://169.254.169.254/latest/meta-data/", ())
    assert isinstance(caught.value, InputError)
    assert caught.value.code == "input_url_refused"
    assert "cloud metadata" in caught.value.message


def test_messages_leave_out_credentials_and_query() -> None:
    text = describe_url("https://alice:s3cret@example.com:8443/a.mp4?token=abc")
    assert text == "https://example.com:8443/a.mp4"
    with pytest.raises(UrlRefused) as caught:
        check_url("http://bob:hunter2@127.0.0.1/x?sig=zzz", ())
    assert "hunter2" not in caught.value.message
    assert "zzz" not in caught.value.message
