"""Traces against a real receiver: one job through the API and the stage workers gives one trace in
Jaeger that holds the request and every stage of every chunk."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from backdrop.sample import write_sample
from backdrop.submit import follow_from_now, wait_for
from base.settings import Settings
from infra.jaeger_server import JaegerServer, traced_env
from schemas import CHUNK_STAGES, PIPELINE, JobAccepted, JobCompleted, LifecycleEvent
from tests.integration.api_fixtures import ApiProcess, new_api_key, start_api
from tests.integration.pipeline_fixtures import OwnWorkers, own_workers

pytestmark = pytest.mark.integration

# Spans leave each process within a second: the test waits for the batch processors, not the default 5 s.
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "500"}


@pytest.fixture(scope="module")
def jaeger(infra: Settings) -> Iterator[Settings]:
    """Jaeger as `backdrop infra up --observability` starts it, stopped after the module."""
    server = JaegerServer(infra)
    server.up()
    yield infra
    server.stop()


@pytest.fixture(scope="module")
def otel_env(jaeger: Settings) -> dict[str, str]:
    # traced_env leaves an environment that names its own exporter alone: ours must name none.
    return {**traced_env(jaeger, {}), **FAST_EXPORT}


@pytest.fixture(scope="module")
def workers(
    jaeger: Settings, otel_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OwnWorkers]:
    with own_workers(jaeger, tmp_path_factory.mktemp("traced-workers"), env=otel_env) as own:
        yield own


@pytest.fixture(scope="module")
def api(
    jaeger: Settings, otel_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    process = start_api(jaeger, tmp_path_factory.mktemp("traced-api"), **otel_env)
    yield process
    process.stop()


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    tags: dict[str, Any]


def _spans(trace: dict[str, Any]) -> list[Span]:
    services = {pid: process["serviceName"] for pid, process in trace["processes"].items()}
    found = []
    for span in trace["spans"]:
        parents = [ref["spanID"] for ref in span.get("references", []) if ref["refType"] == "CHILD_OF"]
        found.append(
            Span(
                span["traceID"],
                span["spanID"],
                parents[0] if parents else None,
                span["operationName"],
                services[span["processID"]],
                {tag["key"]: tag["value"] for tag in span.get("tags", [])},
            )
        )
    return found


def _job_traces(http: httpx.Client, job_id: str) -> dict[str, list[Span]]:
    """Every trace in Jaeger with a span about ``job_id``, from any stage's service."""
    traces: dict[str, list[Span]] = {}
    for stage in PIPELINE:
        answer = http.get(
            "/api/traces",
            params={
                "service": f"backdrop-{stage}",
                "tags": orjson.dumps({"backdrop.job_id": job_id}).decode(),
                "limit": 100,
                "lookback": "1h",
            },
        )
        if answer.status_code == 404:  # the service has sent nothing yet
            continue
        answer.raise_for_status()
        for trace in answer.json()["data"] or []:
            whole = http.get(f"/api/traces/{trace['traceID']}")
            whole.raise_for_status()
            traces[trace["traceID"]] = _spans(whole.json()["data"][0])
    return traces


def _complete(spans: list[Span], chunks: int) -> bool:
    per_stage = Counter(span.tags.get("backdrop.stage") for span in spans)
    return (
        all(per_stage[stage] >= chunks for stage in (*CHUNK_STAGES, "assemble")) and per_stage["extract"] >= 2
    )


def test_one_job_gives_one_trace_with_every_stage(
    jaeger: Settings, workers: OwnWorkers, api: ApiProcess, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp4"
    write_sample(clip, seconds=4, width=320, height=180, fps=Fraction(24))
    key = new_api_key(jaeger, "traces")
    events: list[LifecycleEvent] = []
    follower = follow_from_now(jaeger)
    try:
        with api.client(key.secret, timeout=60) as http:
            answer = http.post(
                "/v1/uploads",
                files={"file": ("clip.mp4", clip.read_bytes(), "video/mp4")},
                data={"background": "#20c040"},
            )
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["id"]
        final = wait_for(follower, job_id, timeout_s=300, on_event=events.append)
    finally:
        follower.close()
    assert isinstance(final, JobCompleted), final
    (accepted,) = [event for event in events if isinstance(event, JobAccepted)]
    chunks = accepted.chunk_count
    assert chunks >= 2  # more than one chunk, or "a span per chunk" proves little

    with httpx.Client(base_url=jaeger.jaeger_query_url, timeout=10) as http:
        deadline = time.monotonic() + 60
        while True:
            traces = _job_traces(http, job_id)
            if len(traces) == 1 and _complete(next(iter(traces.values())), chunks):
                break
            if time.monotonic() > deadline:
                counts = {
                    tid: Counter(s.tags.get("backdrop.stage") for s in spans) for tid, spans in traces.items()
                }
                raise AssertionError(f"job {job_id}: traces in Jaeger after 60 s: {counts}")
            time.sleep(1)
    (spans,) = traces.values()
    by_id = {span.span_id: span for span in spans}

    # Every stage, each chunk exactly once (extract: the gate, then the cut; assemble: one per chunk).
    # The gate's span names no job: a submit is not the job's until the gate has claimed its id.
    stage_spans = [span for span in spans if "backdrop.stage" in span.tags]
    assert {span.tags.get("backdrop.job_id") for span in stage_spans} == {job_id, None}
    (gate,) = [span for span in stage_spans if "backdrop.job_id" not in span.tags]
    assert gate.tags["messaging.destination.name"] == "backdrop.uploads"
    for stage in CHUNK_STAGES:
        mine = [span for span in stage_spans if span.tags["backdrop.stage"] == stage]
        assert sorted(span.tags["backdrop.chunk"] for span in mine) == list(range(chunks)), stage
        assert {span.service for span in mine} == {f"backdrop-{stage}"}
    assert sum(span.tags["backdrop.stage"] == "extract" for span in stage_spans) == 2
    assert sum(span.tags["backdrop.stage"] == "assemble" for span in stage_spans) == chunks

    # One tree: the request's server span is the root, every other span descends from it.
    (root,) = [span for span in spans if span.parent_id is None]
    assert root.service == "backdrop-api"
    assert root.tags.get("http.route") == "/v1/uploads"
    for span in spans:
        hops = 0
        while span.parent_id is not None:
            span = by_id[span.parent_id]
            hops += 1
            assert hops < 100
        assert span is root

    # Inside the API: the submit's producer span, and the database and Redis calls of the request.
    api_spans = [span for span in spans if span.service == "backdrop-api"]
    assert any(span.name == "send backdrop.uploads" for span in api_spans)
    systems = {span.tags.get("db.system", span.tags.get("db.system.name")) for span in api_spans}
    assert {"postgresql", "redis"} <= systems
    # Extract's first span continues the submit's.
    (send,) = [span for span in api_spans if span.name == "send backdrop.uploads"]
    assert any(
        span.parent_id == send.span_id and span.tags.get("backdrop.stage") == "extract" for span in spans
    )
