"""Proof of ownership for a public submit: a signature over its bytes with the owning key's secret.

A submit on ``backdrop.uploads`` that names an ``owner`` carries three headers, made the Standard Webhooks
way (the same scheme our webhooks are signed with):

- ``backdrop-signature-id``: the job id;
- ``backdrop-signature-timestamp``: when it was signed, in Unix seconds;
- ``backdrop-signature``: ``v1,`` + base64 of HMAC-SHA256(secret, ``{id}.{timestamp}.{body}``).

Each key's submit secret derives from one server-side root (``BACKDROP_SIGNING_SECRET``), so the extract
gate verifies without a database; ``backdrop keys create`` shows it once, ``backdrop sign`` uses it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from standardwebhooks import Webhook

from streams.errors import Refused
from streams.headers import Headers, get_text

SIGNATURE_ID = "backdrop-signature-id"
SIGNATURE_TIMESTAMP = "backdrop-signature-timestamp"
SIGNATURE = "backdrop-signature"
# How old a signature may be when the gate reads it: long enough for a backlog on the uploads topic, short
# enough that a captured submit cannot be replayed for long. Signatures from the future get a little slack.
MAX_AGE = timedelta(days=1)
MAX_AHEAD = timedelta(minutes=5)


def submit_secret(root: str, owner: str) -> str:
    """The key's submit-signing secret (``whsec_…``): HMAC of the key id under the server's root secret."""
    derived = hmac.new(root.encode(), f"backdrop-submit/{owner}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(derived).decode("ascii")


def sign_submit(secret: str, job_id: str, body: bytes, now: datetime | None = None) -> Headers:
    """The headers that prove ``body`` (a submit's exact bytes) comes from the holder of ``secret``."""
    when = (now or datetime.now(UTC)).replace(microsecond=0)
    signature = Webhook(secret).sign(job_id, when, body.decode("utf-8"))
    return [
        (SIGNATURE_ID, job_id.encode()),
        (SIGNATURE_TIMESTAMP, str(int(when.timestamp())).encode()),
        (SIGNATURE, signature.encode()),
    ]


def verify_submit(
    secret: str, job_id: str, body: bytes, headers: Headers, now: datetime | None = None
) -> None:
    """Refused unless ``headers`` sign ``body`` for ``job_id`` with ``secret``, recently."""
    given_id, stamp, given = (
        get_text(headers, name) for name in (SIGNATURE_ID, SIGNATURE_TIMESTAMP, SIGNATURE)
    )
    if given is None or stamp is None or given_id is None:
        raise Refused(
            f"a submit naming an owner must be signed with that key's submit secret ({SIGNATURE} headers "
            "missing): sign it with `backdrop sign`, or submit through the API"
        )
    if given_id != job_id:
        raise Refused(f"the signature is for job {given_id!r}, not {job_id!r}")
    try:
        when = datetime.fromtimestamp(int(stamp), UTC)
        body_text = body.decode("utf-8")
    except (ValueError, OverflowError, OSError) as exc:
        raise Refused(f"unreadable signature timestamp or body ({exc})") from exc
    now = now or datetime.now(UTC)
    if not now - MAX_AGE <= when <= now + MAX_AHEAD:
        raise Refused(f"the signature was made at {when.isoformat()}, outside the {MAX_AGE} it stays valid")
    expected = Webhook(secret).sign(job_id, when, body_text)
    offered = given.split()  # Standard Webhooks allows several, space-separated (key rotation)
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise Refused(
            "the signature does not match the submit and its owner's key: it was not made with "
            "that key's submit secret, or the bytes changed after signing"
        )
