from __future__ import annotations

from streams.headers import get_header, get_text, normalize, set_header


def test_normalize_accepts_every_client_shape() -> None:
    assert normalize(None) == []
    assert normalize((("a", b"1"), ("b", None), ("c", "x"))) == [("a", b"1"), ("b", b""), ("c", b"x")]
    assert normalize({"a": b"1", "b": None}) == [("a", b"1"), ("b", b"")]


def test_last_repeat_wins() -> None:
    headers = [("k", b"old"), ("other", b"o"), ("k", b"new")]
    assert get_header(headers, "k") == b"new"
    assert get_header(headers, "missing") is None


def test_get_text_never_raises_on_bad_utf8() -> None:
    assert get_text([("k", b"\xffok")], "k") == "\ufffdok"
    assert get_text([], "k") is None


def test_set_header_replaces_without_mutating() -> None:
    headers = [("k", b"1"), ("x", b"2"), ("k", b"3")]
    assert set_header(headers, "k", "v") == [("x", b"2"), ("k", b"v")]
    assert headers == [("k", b"1"), ("x", b"2"), ("k", b"3")]
