"""OpenTelemetry context carried in Kafka headers (W3C ``traceparent``), so one trace spans every hop.

Telemetry never fails a message: a propagation error is logged at debug level and the message goes on
without trace context.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter, TextMapPropagator
from opentelemetry.trace import Span, SpanKind, Tracer

from streams.headers import Headers

logger = logging.getLogger(__name__)


class _HeadersGetter(Getter[Headers]):
    def get(self, carrier: Headers, key: str) -> list[str] | None:
        values = [value.decode("utf-8", errors="replace") for name, value in carrier if name == key]
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        return [name for name, _ in carrier]


class _HeadersSetter(Setter[Headers]):
    def set(self, carrier: Headers, key: str, value: str) -> None:
        # Replace rather than append: a re-published event must not carry its old parent as well.
        carrier[:] = [(name, old) for name, old in carrier if name != key]
        carrier.append((key, value.encode()))


_GETTER = _HeadersGetter()
_SETTER = _HeadersSetter()


def inject(
    headers: Headers, context: Context | None = None, propagator: TextMapPropagator | None = None
) -> Headers:
    """A copy of ``headers`` carrying the current (or given) trace context; the input is untouched."""
    carried = list(headers)
    try:
        (propagator or propagate.get_global_textmap()).inject(carried, context=context, setter=_SETTER)
    except Exception:  # telemetry must never fail a message
        logger.debug("could not inject trace context into Kafka headers", exc_info=True)
        return list(headers)
    return carried


def extract(headers: Headers, propagator: TextMapPropagator | None = None) -> Context:
    """The trace context the producer put in ``headers``; an empty context if there is none or it is bad."""
    try:
        return (propagator or propagate.get_global_textmap()).extract(headers, getter=_GETTER)
    except Exception:  # telemetry must never fail a message
        logger.debug("could not extract trace context from Kafka headers", exc_info=True)
        return Context()


@contextmanager
def stage_span(
    tracer: Tracer,
    stage: str,
    job_id: str | None,
    chunk: int | None,
    headers: Headers,
    *,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    key: bytes | str | None = None,
    consumer_group: str | None = None,
    propagator: TextMapPropagator | None = None,
) -> Iterator[Span]:
    """A CONSUMER span for one event, child of the producer's span; events published inside it continue it.

    An exception from the body is recorded on the span (status ERROR) and re-raised.
    """
    destination = topic or f"backdrop.stage.{stage}"
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": destination,
        "backdrop.stage": stage,
    }
    if job_id:  # none for a message that names no job yet (extract's gate) or names it wrongly
        attributes["backdrop.job_id"] = job_id
    if chunk is not None:
        attributes["backdrop.chunk"] = chunk
    if partition is not None:
        attributes["messaging.destination.partition.id"] = str(partition)
    if offset is not None:
        attributes["messaging.kafka.offset"] = offset
    if key is not None:
        attributes["messaging.kafka.message.key"] = (
            key.decode(errors="replace") if isinstance(key, bytes) else key
        )
    if consumer_group is not None:
        attributes["messaging.consumer.group.name"] = consumer_group

    span = _start(
        tracer, f"process {destination}", SpanKind.CONSUMER, attributes, extract(headers, propagator)
    )
    with trace.use_span(span, end_on_exit=True, record_exception=True, set_status_on_exception=True):
        yield span


@contextmanager
def publish_span(tracer: Tracer, topic: str, key: bytes | str | None = None) -> Iterator[Span]:
    """A PRODUCER span for one event sent outside a stage span (the API's submit): headers injected inside
    it make the consumer's span its child, so a job's trace starts at the request that made it."""
    attributes: dict[str, str] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": topic,
    }
    if key is not None:
        attributes["messaging.kafka.message.key"] = (
            key.decode(errors="replace") if isinstance(key, bytes) else key
        )
    span = _start(tracer, f"send {topic}", SpanKind.PRODUCER, attributes)
    with trace.use_span(span, end_on_exit=True, record_exception=True, set_status_on_exception=True):
        yield span


@contextmanager
def batch_span(
    tracer: Tracer,
    name: str,
    topic: str,
    count: int,
    batch: Iterable[Headers],
    propagator: TextMapPropagator | None = None,
) -> Iterator[Span]:
    """A CONSUMER span for ``count`` events handled together (the projector's): a new trace that links to
    each event's producer, since a span has one parent and the batch has many. ``batch`` (the events'
    headers) is read only when the span records, so a process without tracing pays nothing for it."""
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": topic,
        "messaging.batch.message_count": count,
        "backdrop.stage": name,
    }
    span = _start(tracer, f"process {topic}", SpanKind.CONSUMER, attributes, Context())
    if span.is_recording():
        try:
            for headers in batch:
                context = trace.get_current_span(extract(headers, propagator)).get_span_context()
                if context.is_valid:
                    span.add_link(context)
        except Exception:  # telemetry must never fail a message
            logger.debug("could not link the %s batch span", name, exc_info=True)
            span.end()
            span = trace.INVALID_SPAN
    with trace.use_span(span, end_on_exit=True, record_exception=True, set_status_on_exception=True):
        yield span


def _start(
    tracer: Tracer,
    name: str,
    kind: SpanKind,
    attributes: Mapping[str, str | int],
    context: Context | None = None,
) -> Span:
    """The started span, or the invalid one if the tracer fails: telemetry must never fail a message."""
    try:
        return tracer.start_span(name, context=context, kind=kind, attributes=attributes)
    except Exception:
        logger.debug("could not start the span %s", name, exc_info=True)
        return trace.INVALID_SPAN
