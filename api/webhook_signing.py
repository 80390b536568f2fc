"""Webhooks for job endings, the Standard Webhooks way: signed request, one delivery, retry schedule.

Pure apart from ``deliver``, which makes one POST. The outbox and the dispatcher
that calls them live elsewhere; a delivery keeps the same ``webhook-id`` on every retry, so a
receiver can drop the repeats (the signature changes: it covers the fresh timestamp).
"""

from __future__ import annotations

import base64
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import httpx
import orjson
from standardwebhooks import Webhook

from base.errors import UrlRefused
from base.guarded_http import transfer_deadline
from base.ssrf import check_scheme, describe_url
from schemas import JobCancelled, JobCompleted, JobFailed
from streams.codec import encode

TerminalEvent = JobCompleted | JobFailed | JobCancelled
EVENT_TYPES = {"completed": "job.completed", "failed": "job.failed", "cancelled": "job.cancelled"}
# Seconds to wait after attempt 1, 2, …; roughly ×5 a step up to the one-hour cap, which repeats.
DELAYS_S = (5.0, 30.0, 120.0, 600.0, 3600.0)
MAX_ATTEMPTS = 12  # ~7 h of trying in all
# Longest one delivery may take, connecting, sending and reading the answer's head together.
DEADLINE_S = 30.0
# Delays are shortened by up to this fraction, so deliveries that failed together spread out.
JITTER = 0.2
Outcome = Literal["delivered", "retry", "stop"]


@dataclass(frozen=True)
class WebhookRequest:
    """The bytes to POST and the headers that sign them."""

    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class DeliveryResult:
    """What one POST came to: ``delivered``, ``retry`` later, or ``stop`` for good."""

    outcome: Outcome
    status: int | None
    detail: str


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form (``whsec_`` + base64 of 32 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def webhook_id_for(event: TerminalEvent) -> str:
    """The delivery id for ``event``: derived from the event id, so a replayed event keeps it."""
    return f"msg_{event.event_id.hex}"


def build_request(
    webhook_id: str, event: TerminalEvent, secret: str, now: datetime | None = None
) -> WebhookRequest:
    """The signed request for ``event``; ``now`` (UTC) is the signing time, the current time if None."""
    body = orjson.dumps(
        {
            "type": EVENT_TYPES[event.event_type],
            "timestamp": event.occurred_at,
            # The event exactly as it is on backdrop.jobs.
            "data": orjson.Fragment(encode(event)),
        },
        option=orjson.OPT_UTC_Z,
    )
    # The header carries whole seconds, so sign exactly those (the library floors a datetime likewise).
    sent = int((now or datetime.now(UTC)).timestamp())
    signature = Webhook(secret).sign(webhook_id, datetime.fromtimestamp(sent, UTC), body.decode("utf-8"))
    return WebhookRequest(
        body,
        {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(sent),
            "webhook-signature": signature,
            "content-type": "application/json",
        },
    )


def classify(status: int) -> DeliveryResult:
    """A receiver's status → the outcome: 2xx delivered, 410 stop (unsubscribed), anything else retry."""
    if 200 <= status < 300:
        return DeliveryResult("delivered", status, "delivered")
    if status == 410:
        return DeliveryResult("stop", status, "the receiver answered 410 Gone: no more deliveries to it")
    # Redirects count as failures too: a webhook URL is called as given, never followed elsewhere.
    return DeliveryResult("retry", status, f"the receiver answered {status}")


def deliver(
    client: httpx.Client,
    url: str,
    webhook_id: str,
    payload: TerminalEvent,
    secret: str,
    now: datetime | None = None,
    deadline_s: float = DEADLINE_S,
) -> DeliveryResult:
    """One signed POST of ``payload`` to ``url``, over by ``deadline_s``; ``client`` should be guarded
    (base.guarded_http: the deadline holds on its connections)."""
    refused = _refusal(url)
    if refused is not None:
        return refused
    request = build_request(webhook_id, payload, secret, now)
    try:
        # Streamed and closed unread: a receiver's answer body is never needed, however large. The whole
        # POST has a deadline: a receiver answering a byte at a time cannot hold a dispatcher.
        with (
            transfer_deadline(deadline_s),
            client.stream("POST", url, content=request.body, headers=request.headers) as response,
        ):
            return classify(response.status_code)
    except UrlRefused as exc:
        return DeliveryResult("stop", None, exc.message)
    except httpx.HTTPError as exc:
        return DeliveryResult("retry", None, f"{type(exc).__name__}: {exc}")


def _refusal(url: str) -> DeliveryResult | None:
    """A URL that can never be delivered to (bad syntax, not http(s)) stops at once."""
    try:
        check_scheme(httpx.URL(url), describe_url(url))
    except httpx.InvalidURL as exc:
        return DeliveryResult("stop", None, f"not a valid URL: {exc}")
    except UrlRefused as exc:
        return DeliveryResult("stop", None, exc.message)
    return None


def next_delay(
    attempt: int, max_attempts: int = MAX_ATTEMPTS, rand: Callable[[], float] = random.random
) -> float | None:
    """Seconds to wait after failed attempt number ``attempt`` (1 = the first), or None: give up."""
    if attempt < 1:
        raise ValueError(f"attempts count from 1, got {attempt}")
    if attempt >= max_attempts:
        return None
    base = DELAYS_S[min(attempt, len(DELAYS_S)) - 1]
    return base * (1 - JITTER * rand())
