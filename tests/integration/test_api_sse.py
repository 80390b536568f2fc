"""SSE on real servers: live delivery, resume with Last-Event-ID, and a client surviving a killed API."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from api.keys import NewKey
from base.settings import Settings
from tests.integration.api_fixtures import (
    ApiProcess,
    Publisher,
    Received,
    accepted,
    completed,
    example,
    logged_events,
    progress,
    read_sse,
    start_api,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("end", ["completed", "failed", "cancelled"])
def test_live_events_then_the_stream_ends(api: ApiProcess, infra: Settings, key: NewKey, end: str) -> None:
    publisher = Publisher(infra)
    start = accepted(key.id)
    publisher.publish(start)
    with api.client(key.secret, timeout=30) as http:
        wait_until(lambda: http.get(f"/v1/jobs/{start.job_id}").status_code == 200, what="the job's row")
        got: list[Received] = []

        def follow() -> None:
            got.extend(read_sse(http, start.job_id))

        reader = threading.Thread(target=follow)
        reader.start()
        last = completed(start.job_id) if end == "completed" else example(end, job_id=start.job_id)
        later = [progress(start.job_id, n) for n in range(1, 5)] + [last]
        publisher.publish(*later)
        reader.join(30)
    assert not reader.is_alive(), "the stream did not end after the terminal event"
    assert [r.event for r in got] == ["accepted", "stage_progress", "stage_progress", "stage_progress",
                                      "stage_progress", end]  # fmt: skip
    assert [r.data["event_id"] for r in got] == [str(e.event_id) for e in (start, *later)]
    assert [r.id for r in got] == sorted(r.id for r in got)


def test_resume_with_last_event_id_gets_exactly_the_missed_events(
    api: ApiProcess, infra: Settings, key: NewKey
) -> None:
    publisher = Publisher(infra)
    start = accepted(key.id)
    first = [start, progress(start.job_id, 1), progress(start.job_id, 2)]
    publisher.publish(*first)
    wait_until(lambda: logged_events(infra, start.job_id) == 3, what="3 projected events")
    with api.client(key.secret, timeout=30) as http:
        seen = list(read_sse(http, start.job_id, stop_after=3))
        missed = [progress(start.job_id, 3), progress(start.job_id, 4), completed(start.job_id)]
        publisher.publish(*missed)
        wait_until(lambda: logged_events(infra, start.job_id) == 6, what="6 projected events")
        resumed = list(read_sse(http, start.job_id, last_event_id=seen[-1].id))
        # Resuming after the terminal event: nothing more, and the stream ends at once.
        after_end = list(read_sse(http, start.job_id, last_event_id=resumed[-1].id))
    assert [r.data["event_id"] for r in seen] == [str(e.event_id) for e in first]
    assert [r.data["event_id"] for r in resumed] == [str(e.event_id) for e in missed]
    assert after_end == []


def test_a_client_resumes_on_another_api_process_when_one_is_killed(
    api: ApiProcess, infra: Settings, key: NewKey, api_logs: Path
) -> None:
    doomed = start_api(infra, api_logs)
    publisher = Publisher(infra)
    start = accepted(key.id, chunks=10)
    publisher.publish(start)
    wait_until(lambda: logged_events(infra, start.job_id) == 1, what="the accepted event")
    events = [start]
    got: list[Received] = []
    try:
        with doomed.client(key.secret, timeout=30) as http:
            stream = read_sse(http, start.job_id)
            got.append(next(stream))
            for n in range(1, 4):
                event = progress(start.job_id, n, total=10)
                events.append(event)
                publisher.publish(event)
                got.append(next(stream))
            doomed.kill()
            # Published while the client has no API: it must get them on reconnect.
            for n in range(4, 8):
                event = progress(start.job_id, n, total=10)
                events.append(event)
                publisher.publish(event)
            with pytest.raises(Exception):  # noqa: B017, PT011 -- the transport's error type varies
                next(stream)
    finally:
        doomed.stop()
    events.append(completed(start.job_id))
    publisher.publish(events[-1])
    with api.client(key.secret, timeout=30) as http:
        got += list(read_sse(http, start.job_id, last_event_id=got[-1].id))
    assert [r.data["event_id"] for r in got] == [str(e.event_id) for e in events]
    assert len({r.id for r in got}) == len(got)


def test_an_idle_stream_gets_keep_alive_comments(
    infra: Settings, key: NewKey, projector: object, api_logs: Path
) -> None:
    # README: BACKDROP_SSE_PING_S, "keep-alive comment interval on idle SSE streams" (proxies drop
    # connections that say nothing for a while).
    pinging = start_api(infra, api_logs, BACKDROP_SSE_PING_S="0.5")
    try:
        start = accepted(key.id)
        Publisher(infra).publish(start)
        wait_until(lambda: logged_events(infra, start.job_id) == 1, what="the accepted event")
        comments, started = 0, time.monotonic()
        with (
            pinging.client(key.secret, timeout=10) as http,
            http.stream("GET", f"/v1/jobs/{start.job_id}/events") as response,
        ):
            assert response.status_code == 200
            for line in response.iter_lines():
                comments += line.startswith(":")
                if comments >= 2 or time.monotonic() - started > 5:
                    break
        assert comments >= 2, "no keep-alive comment within 5 s at a 0.5 s ping interval"
    finally:
        pinging.stop()


def test_a_key_holds_a_bounded_number_of_streams(infra: Settings, key: NewKey, api_logs: Path) -> None:
    # The attack: one key opened event streams without end, each holding a connection and a subscriber
    # on the API process.
    capped = start_api(infra, api_logs, BACKDROP_SSE_STREAMS_PER_KEY="2")
    start = accepted(key.id)
    Publisher(infra).publish(start)
    path = f"/v1/jobs/{start.job_id}/events"
    try:
        with capped.client(key.secret, timeout=30) as http:
            wait_until(lambda: http.get(f"/v1/jobs/{start.job_id}").status_code == 200, what="the job's row")
            with http.stream("GET", path) as first, http.stream("GET", path) as second:
                assert (first.status_code, second.status_code) == (200, 200)
                third = http.get(path)
                assert third.status_code == 429, third.text
                assert third.headers["Retry-After"]
            # Closed streams free their places.
            wait_until(lambda: _opens(http, path), what="a stream once the others closed")
    finally:
        capped.stop()


def _opens(http: httpx.Client, path: str) -> bool:
    with http.stream("GET", path) as response:
        return response.status_code == 200
