"""request_hash ignores key order; new_upload_key makes a safe key under the given prefix."""

from __future__ import annotations

import pytest

from api.submission import new_upload_key, request_hash


def test_request_hash_ignores_key_order_at_every_depth() -> None:
    one = {"source": {"object_key": "a.mp4", "extra": 1}, "background": "blur", "heroes": 5}
    two = {"heroes": 5, "background": "blur", "source": {"extra": 1, "object_key": "a.mp4"}}
    assert request_hash(one) == request_hash(two)
    assert len(request_hash(one)) == 64


def test_request_hash_tells_bodies_apart() -> None:
    assert request_hash({"background": "blur"}) != request_hash({"background": "#00FF00"})
    assert request_hash({"heroes": 5}) != request_hash({"heroes": "5"})


@pytest.mark.parametrize(
    ("filename", "safe"),
    [
        ("talk.mp4", "talk.mp4"),
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("my talk (final).mov", "my_talk__final_.mov"),
        ("a\x00b\\c.mp4", "a_b_c.mp4"),
        ("", "upload.bin"),
    ],
)
def test_upload_keys_sanitise_the_name(filename: str, safe: str) -> None:
    key = new_upload_key("job_abcdefgh", filename, "submitted/")
    prefix, job_id, name = key.split("/")
    assert (prefix, job_id) == ("submitted", "job_abcdefgh")
    assert name.split("-", 1)[1] == safe


def test_upload_keys_are_unique_and_bounded() -> None:
    keys = {new_upload_key("job_abcdefgh", "x" * 1000 + ".mp4", "presigned/") for _ in range(50)}
    assert len(keys) == 50
    assert all(key.startswith("presigned/job_abcdefgh/") and key.endswith(".mp4") for key in keys)
    assert max(len(key.rsplit("/", 1)[1]) for key in keys) == 9 + 128  # 8 hex, '-', the name's tail
