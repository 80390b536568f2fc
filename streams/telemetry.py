"""Traces that leave the process: the OpenTelemetry SDK, configured from the standard ``OTEL_*`` variables.

Off unless asked for: with ``OTEL_SDK_DISABLED=true``, or with no exporter named (``OTEL_TRACES_EXPORTER``
unset or ``none``) and no OTLP endpoint set (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), nothing is configured and the SDK is not even imported: spans stay
the API's no-op ones, which cost nothing. Otherwise every span goes through a batch processor to the OTLP
exporter (http/protobuf; ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` needs ``opentelemetry-exporter-otlp-proto-grpc``
installed) or, with ``OTEL_TRACES_EXPORTER=console``, to standard output. The SDK reads the rest of the
variables itself (endpoint, headers, timeout, sampler, batch sizes, propagators, resource attributes):
these variables belong to OpenTelemetry, so this module reads only the few that decide whether to start
it, and they are not in ``Settings``. ``service.name`` defaults to ``backdrop-<process>``
(``backdrop-segment``, ``backdrop-api``) unless ``OTEL_SERVICE_NAME`` or ``OTEL_RESOURCE_ATTRIBUTES`` says.

Kafka spans are our own (``streams.tracing``): a CONSUMER span per event whose parent is the producer's
context from the ``traceparent`` header, and every event published inside it carries it on. No Kafka
client instrumentation is installed: the confluent-kafka one wraps ``Producer``/``Consumer`` in proxy
classes (our type checks and ``Consumer`` subclassing see other types) and injects its own
``traceparent`` beside ours, and the aiokafka one does the same on the API's producer; either would make a
second span per message at best and a second parent at worst. The client libraries we do instrument
(FastAPI, SQLAlchemy, Redis) make child spans of whatever span is current, so a request's database
calls land in the job's trace. The S3 client's urllib3 is not instrumented: no release of
``opentelemetry-instrumentation-urllib3`` matches the instrumentation base the others need (0.66b2).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from opentelemetry import trace

from base import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("backdrop.telemetry")

_TRUE = {"true", "1", "yes", "on"}


def exporters_wanted(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The span exporters the variables ask for, by name (``otlp``, ``console``); empty: tracing is off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return ()
    named = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if named:
        return tuple(name for part in named.split(",") if (name := part.strip()) and name != "none")
    # The SDK's default exporter is otlp; we start it only when someone has said where to send.
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return ("otlp",) if endpoint else ()


def tracer_provider(process: str) -> TracerProvider | None:
    """A provider exporting this process's spans as the variables say, or None when tracing is off.

    Not installed as the global one (``traced`` does that), so tests can build as many as they like.
    """
    # The process environment, not an argument: the SDK's exporter and resource read it themselves.
    environ = os.environ
    wanted = exporters_wanted(environ)
    if not wanted:
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporters = [exporter for name in wanted if (exporter := _exporter(name, environ)) is not None]
    if not exporters:
        return None
    # Resource.create reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME from the process environment;
    # attributes given to it would win over them, so our default goes in only where they name no service.
    resource = Resource.create({SERVICE_VERSION: __version__})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: f"backdrop-{process}"}))
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)  # traced() shuts it down
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _exporter(name: str, environ: Mapping[str, str]) -> SpanExporter | None:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        log.warning("OTEL_TRACES_EXPORTER names %r, which Backdrop does not ship; ignoring it", name)
        return None
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
    ).strip()
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
                OTLPSpanExporter as GrpcSpanExporter,
            )
        except ImportError:
            log.error(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs `pip install "
                "opentelemetry-exporter-otlp-proto-grpc`; or use http/protobuf "
                "(the default, port 4318). Exporting no spans."
            )
            return None
        grpc_exporter: SpanExporter = GrpcSpanExporter()
        return grpc_exporter
    if protocol not in ("", "http/protobuf"):
        log.warning("OTLP protocol %r is not supported; using http/protobuf", protocol)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


@contextlib.contextmanager
def traced(process: str) -> Iterator[TracerProvider | None]:
    """Spans of this process leave it while the block runs (when the variables ask for it); at its end the
    last ones are flushed, so a worker stopped by SIGTERM still exports the spans of its last message.

    Yields the installed provider, or None when tracing is off.
    """
    provider = tracer_provider(process)
    if provider is None:
        yield None
        return
    trace.set_tracer_provider(provider)
    log.info("%s: exporting traces as service %s", process, provider.resource.attributes.get("service.name"))
    try:
        yield provider
    finally:
        provider.shutdown()  # flushes the batch processor, then stops it


def instrument_engine(provider: TracerProvider | None, engine: Engine | AsyncEngine) -> None:
    """A span for each statement ``engine`` runs (inside the current span: a request's, a batch's);
    nothing when tracing is off. The engine itself, not ``create_engine``: the instrumentation's patch of
    that function misses modules that imported it before tracing was configured (all of ours)."""
    if provider is None:
        return
    try:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from sqlalchemy.ext.asyncio import AsyncEngine

        sync = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
        # Its 0.66b2 release declares SQLAlchemy < 2.1 and refuses 2.1 unless told; its engine events are
        # the same in 2.1 (tests/integration/test_traces.py finds the spans).
        SQLAlchemyInstrumentor().instrument(
            engine=sync, tracer_provider=provider, enable_commenter=False, skip_dep_check=True
        )
    except Exception:  # telemetry must never stop a process from starting
        log.warning("could not instrument SQLAlchemy; database calls make no spans", exc_info=True)


@contextlib.contextmanager
def untraced() -> Iterator[None]:
    """Library calls inside make no spans: housekeeping (the projector's flush checks every few hundred
    milliseconds) would otherwise be a trace of one statement each, burying the ones about jobs."""
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        yield


def instrument_redis(provider: TracerProvider | None) -> None:
    """A span for each Redis command of any client, sync or asyncio; nothing when tracing is off."""
    if provider is None:
        return
    try:
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor().instrument(tracer_provider=provider)
    except Exception:  # telemetry must never stop a process from starting
        log.warning("could not instrument Redis; its commands make no spans", exc_info=True)
