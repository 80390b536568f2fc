"""Webhook requests verify with the Standard Webhooks library; deliveries and the retry schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from api.webhook_signing import (
    DELAYS_S,
    MAX_ATTEMPTS,
    TerminalEvent,
    build_request,
    deliver,
    new_secret,
    next_delay,
    webhook_id_for,
)
from base.guarded_http import guarded_client
from schemas import JobCancelled, JobCompleted, JobFailed, JobMetrics
from tests.local_http import Route, serving

LOCAL = (ip_network("127.0.0.1/32"),)
JOB = "job_4vJ9kQ2mXcR7tP1sLwE8aZ"


def _failed() -> JobFailed:
    return JobFailed(
        event_type="failed", job_id=JOB, code="input_corrupt", message="truncated: upload it again"
    )


def _events() -> list[TerminalEvent]:
    return [
        JobCompleted(
            event_type="completed",
            job_id=JOB,
            output_key=f"jobs/{JOB}/output.mp4",
            metrics=JobMetrics(frames=10, duration_s=1.0, processing_s=2.0, fps=5.0),
        ),
        _failed(),
        JobCancelled(event_type="cancelled", job_id=JOB, reason="cancelled by the owner"),
    ]


@pytest.mark.parametrize("event", _events(), ids=lambda e: e.event_type)
def test_the_request_verifies_with_the_reference_library(event: TerminalEvent) -> None:
    secret = new_secret()
    request = build_request(webhook_id_for(event), event, secret)
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == f"job.{event.event_type}"
    assert payload["data"] == json.loads(event.model_dump_json())
    assert payload["timestamp"].endswith("Z")
    assert request.headers["webhook-id"] == f"msg_{event.event_id.hex}"
    assert request.headers["content-type"] == "application/json"


def test_a_tampered_body_or_another_secret_fails() -> None:
    secret = new_secret()
    request = build_request("msg_1", _failed(), secret)
    tampered = request.body.replace(b"input_corrupt", b"input_okay___")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body, {**request.headers, "webhook-id": "msg_2"})


def test_the_signature_covers_the_sending_time() -> None:
    secret = new_secret()
    stale = build_request("msg_1", _failed(), secret, now=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(stale.body, stale.headers)
    moved = {**stale.headers, "webhook-timestamp": str(int(datetime.now(UTC).timestamp()))}
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(stale.body, moved)


def _delay(attempt: int, rand: float) -> float:
    delay = next_delay(attempt, rand=lambda: rand)
    assert delay is not None
    return delay


def test_the_schedule_grows_to_a_cap_and_then_gives_up() -> None:
    plain = [_delay(attempt, 0.0) for attempt in range(1, MAX_ATTEMPTS)]
    assert plain[: len(DELAYS_S)] == list(DELAYS_S)
    assert plain == sorted(plain)
    assert max(plain) == 3600.0
    assert next_delay(MAX_ATTEMPTS) is None
    assert next_delay(3, max_attempts=3) is None


def test_jitter_only_shortens_and_keeps_steps_apart() -> None:
    for attempt in range(1, MAX_ATTEMPTS):
        assert _delay(attempt, 1.0) == pytest.approx(0.8 * _delay(attempt, 0.0))
        assert _delay(attempt, 0.0) <= 3600.0
    # Before the cap the steps are far enough apart that jitter never reorders them.
    for attempt in range(1, len(DELAYS_S)):
        assert _delay(attempt, 0.0) < _delay(attempt + 1, 1.0)
    with pytest.raises(ValueError, match="from 1"):
        next_delay(0)


def test_deliver_posts_a_verifiable_request_and_reads_the_answer() -> None:
    secret = new_secret()
    routes = {"/ok": Route(204), "/gone": Route(410), "/down": Route(503), "/moved": Route(301)}
    with serving(routes) as server, guarded_client(LOCAL, 5) as client:
        ok = deliver(client, server.url("/ok"), "msg_7", _failed(), secret)
        assert (ok.outcome, ok.status) == ("delivered", 204)
        received = server.requests[0]
        assert received.method == "POST"
        assert Webhook(secret).verify(received.body, received.headers)["type"] == "job.failed"
        assert deliver(client, server.url("/gone"), "msg_7", _failed(), secret).outcome == "stop"
        assert deliver(client, server.url("/down"), "msg_7", _failed(), secret).outcome == "retry"
        assert deliver(client, server.url("/moved"), "msg_7", _failed(), secret).outcome == "retry"
        assert len(server.requests) == 4  # the redirect was not followed


def test_deliver_stops_on_refused_urls_and_retries_on_network_errors() -> None:
    secret = new_secret()
    with serving({"/ok": Route(200)}) as server, guarded_client((), 5) as guarded:
        refused = deliver(guarded, server.url("/ok"), "msg_1", _failed(), secret)
        assert refused.outcome == "stop"
        assert "loopback" in refused.detail
        assert deliver(guarded, "ftp://example.com/x", "msg_1", _failed(), secret).outcome == "stop"
        assert server.requests == []
    with guarded_client(LOCAL, 5) as client:  # the server is gone: connection refused
        assert deliver(client, server.url("/ok"), "msg_1", _failed(), secret).outcome == "retry"
