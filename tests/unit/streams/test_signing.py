"""Signed submits: what proves a public submit's owner, and each way a forgery fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streams.errors import Refused
from streams.headers import set_header
from streams.signing import SIGNATURE, SIGNATURE_ID, sign_submit, submit_secret, verify_submit

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BODY = b'{"event_type":"submit","job_id":"job_aaaaaaaaaaaa","owner":"key_victim","source":{"url":"https://a.b/c"}}'
SECRET = submit_secret("root", "key_victim")
JOB = "job_aaaaaaaaaaaa"


def test_a_signed_submit_verifies() -> None:
    headers = sign_submit(SECRET, JOB, BODY, NOW)
    verify_submit(SECRET, JOB, BODY, headers, NOW + timedelta(hours=3))


def test_each_key_has_its_own_secret_and_the_root_matters() -> None:
    assert submit_secret("root", "key_a") != submit_secret("root", "key_b")
    assert submit_secret("root", "key_a") != submit_secret("other root", "key_a")
    assert SECRET.startswith("whsec_")


@pytest.mark.parametrize(
    ("why", "forge"),
    [
        ("no headers", lambda h: []),
        (
            "another key's secret",
            lambda h: sign_submit(submit_secret("root", "key_me"), JOB, BODY, NOW),
        ),
        ("another job's signature", lambda h: set_header(h, SIGNATURE_ID, "job_bbbbbbbbbbbb")),
        ("a mangled signature", lambda h: set_header(h, SIGNATURE, "v1,AAAA")),
        ("too old", lambda h: sign_submit(SECRET, JOB, BODY, NOW - timedelta(days=2))),
        (
            "from the future",
            lambda h: sign_submit(SECRET, JOB, BODY, NOW + timedelta(hours=1)),
        ),
    ],
)
def test_forgeries_are_refused(why: str, forge: object) -> None:
    headers = forge(sign_submit(SECRET, JOB, BODY, NOW))  # type: ignore[operator]
    with pytest.raises(Refused):
        verify_submit(SECRET, JOB, BODY, headers, NOW)


def test_a_body_changed_after_signing_is_refused() -> None:
    headers = sign_submit(SECRET, JOB, BODY, NOW)
    changed = BODY.replace(b"https://a.b/c", b"https://a.b/d")
    with pytest.raises(Refused, match="does not match"):
        verify_submit(SECRET, JOB, changed, headers, NOW)
