from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import CarrierT, Getter, Setter, TextMapPropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from streams.headers import get_text
from streams.tracing import batch_span, extract, inject, publish_span, stage_span


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> Iterator[trace.Tracer]:
    # A provider of our own, not the global one: tests must not leak tracing into each other.
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test")
    provider.shutdown()


class BrokenPropagator(TextMapPropagator):
    def extract(
        self, carrier: CarrierT, context: Context | None = None, getter: Getter[CarrierT] | None = None
    ) -> Context:
        raise RuntimeError("broken extract")

    def inject(
        self, carrier: CarrierT, context: Context | None = None, setter: Setter[CarrierT] | None = None
    ) -> None:
        raise RuntimeError("broken inject")

    @property
    def fields(self) -> set[str]:
        return set()


def test_inject_writes_the_current_span_as_traceparent(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("produce") as span:
        headers = inject([("event-type", b"chunk")])
    context = span.get_span_context()
    assert headers[0] == ("event-type", b"chunk")
    assert get_text(headers, "traceparent") == (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    )


def test_inject_copies_and_replaces_an_old_traceparent(tracer: trace.Tracer) -> None:
    original = [("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")]
    with tracer.start_as_current_span("produce"):
        headers = inject(original)
    assert [name for name, _ in headers].count("traceparent") == 1
    assert headers != original
    assert original == [("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")]


def test_extract_returns_the_remote_parent(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("produce") as span:
        headers = inject([])
    remote = trace.get_current_span(extract(headers)).get_span_context()
    assert remote.is_remote
    assert (remote.trace_id, remote.span_id) == (
        span.get_span_context().trace_id,
        span.get_span_context().span_id,
    )


def test_stage_span_is_a_consumer_child_across_the_hop(
    tracer: trace.Tracer, exporter: InMemorySpanExporter
) -> None:
    with tracer.start_as_current_span("submit", kind=SpanKind.PRODUCER):
        headers = inject([])
    # The consumer side runs with no current span: only the headers link the two.
    with stage_span(tracer, "segment", "job-1", 4, headers, partition=2, offset=17, key=b"job-1:4") as span:
        assert span.is_recording()
        onward = inject([])
    producer, consumer = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time or 0)
    assert consumer.kind is SpanKind.CONSUMER
    assert consumer.parent is not None
    assert consumer.parent.span_id == producer.context.span_id
    assert consumer.context.trace_id == producer.context.trace_id
    assert consumer.name == "process backdrop.stage.segment"
    assert dict(consumer.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "backdrop.stage.segment",
        "messaging.destination.partition.id": "2",
        "messaging.kafka.offset": 17,
        "messaging.kafka.message.key": "job-1:4",
        "backdrop.stage": "segment",
        "backdrop.job_id": "job-1",
        "backdrop.chunk": 4,
    }
    # What the stage publishes next continues the same trace, under the stage's span.
    assert (get_text(onward, "traceparent") or "").startswith(
        f"00-{consumer.context.trace_id:032x}-{consumer.context.span_id:016x}-"
    )


def test_stage_span_without_context_is_a_root(tracer: trace.Tracer, exporter: InMemorySpanExporter) -> None:
    with stage_span(tracer, "extract", "job-2", None, [("traceparent", b"garbage")]):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.parent is None
    assert "backdrop.chunk" not in (span.attributes or {})


def test_stage_span_records_and_reraises_the_stage_error(
    tracer: trace.Tracer, exporter: InMemorySpanExporter
) -> None:
    with pytest.raises(ValueError, match="bad chunk"), stage_span(tracer, "matte", "job-3", 0, []):
        raise ValueError("bad chunk")
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]


def test_a_broken_propagator_never_fails_the_message(
    tracer: trace.Tracer, exporter: InMemorySpanExporter
) -> None:
    headers = [("k", b"v")]
    assert inject(headers, propagator=BrokenPropagator()) == headers
    assert trace.get_current_span(extract(headers, propagator=BrokenPropagator())) is trace.INVALID_SPAN
    with stage_span(tracer, "encode", "job-4", 1, headers, propagator=BrokenPropagator()):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.parent is None


def test_publish_span_is_the_producer_parent_of_the_consumer(
    tracer: trace.Tracer, exporter: InMemorySpanExporter
) -> None:
    with tracer.start_as_current_span("POST /v1/jobs"), publish_span(tracer, "backdrop.uploads", "job-5"):
        headers = inject([])
    with stage_span(tracer, "extract", "job-5", None, headers):
        pass
    request, send, extract_span = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time or 0)
    assert send.kind is SpanKind.PRODUCER
    assert send.name == "send backdrop.uploads"
    assert send.parent is not None
    assert send.parent.span_id == request.context.span_id
    assert extract_span.parent is not None
    assert extract_span.parent.span_id == send.context.span_id
    assert {s.context.trace_id for s in (request, send, extract_span)} == {request.context.trace_id}


def test_batch_span_links_each_event_it_handles(tracer: trace.Tracer, exporter: InMemorySpanExporter) -> None:
    carried = []
    for job in ("a", "b"):
        with tracer.start_as_current_span(f"stage of {job}"):
            carried.append(inject([]))
    with (
        tracer.start_as_current_span("unrelated"),
        batch_span(tracer, "projector", "backdrop.jobs", 4, [*carried, [], [("traceparent", b"garbage")]]),
    ):
        pass
    spans = {span.name: span for span in exporter.get_finished_spans()}
    batch = spans["process backdrop.jobs"]
    assert batch.parent is None  # a trace of its own, whatever span was current
    assert [link.context.span_id for link in batch.links] == [
        spans["stage of a"].context.span_id,
        spans["stage of b"].context.span_id,
    ]
    assert (batch.attributes or {})["messaging.batch.message_count"] == 4


def test_batch_span_reads_no_headers_when_tracing_is_off() -> None:
    def headers() -> Iterator[list[tuple[str, bytes]]]:
        raise AssertionError("read")
        yield []

    with batch_span(trace.NoOpTracer(), "projector", "backdrop.jobs", 1, headers()) as span:
        assert not span.is_recording()
