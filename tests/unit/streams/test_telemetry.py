from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace import TracerProvider

from streams.telemetry import exporters_wanted, tracer_provider

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, ()),
        ({"OTEL_SERVICE_NAME": "x", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, ()),
        (ENDPOINT, ("otlp",)),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, ("otlp",)),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "true"}, ()),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "false"}, ("otlp",)),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, ()),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, ("otlp",)),  # to the SDK's default endpoint, localhost:4318
        ({"OTEL_TRACES_EXPORTER": " Console , otlp"}, ("console", "otlp")),
    ],
)
def test_tracing_is_on_only_when_an_exporter_is_asked_for(
    environ: dict[str, str], wanted: tuple[str, ...]
) -> None:
    assert exporters_wanted(environ) == wanted


@pytest.fixture
def clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    return monkeypatch


def _resource(provider: TracerProvider | None) -> dict[str, object]:
    assert provider is not None
    try:
        return dict(provider.resource.attributes)
    finally:
        provider.shutdown()


def test_no_provider_when_off(clean_otel_env: pytest.MonkeyPatch) -> None:
    assert tracer_provider("segment") is None


def test_the_service_is_named_after_the_process(clean_otel_env: pytest.MonkeyPatch) -> None:
    clean_otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    attributes = _resource(tracer_provider("segment"))
    assert attributes["service.name"] == "backdrop-segment"
    assert attributes["service.version"]


@pytest.mark.parametrize(
    "variable",
    [("OTEL_SERVICE_NAME", "mine"), ("OTEL_RESOURCE_ATTRIBUTES", "service.name=mine,deployment.env=prod")],
)
def test_the_operators_service_name_wins(
    clean_otel_env: pytest.MonkeyPatch, variable: tuple[str, str]
) -> None:
    clean_otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
    clean_otel_env.setenv(*variable)
    assert _resource(tracer_provider("api"))["service.name"] == "mine"


def test_grpc_without_its_package_exports_nothing(clean_otel_env: pytest.MonkeyPatch) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    try:
        import opentelemetry.exporter.otlp.proto.grpc  # noqa: F401
    except ImportError:
        clean_otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
        clean_otel_env.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        assert tracer_provider("api") is None
    else:
        pytest.skip("the gRPC exporter is installed here")


PROGRAM = """
from opentelemetry import trace
from streams.telemetry import traced
with traced("score"):
    with trace.get_tracer("t").start_as_current_span("last message"):
        pass
"""


def test_spans_still_queued_at_exit_are_exported(clean_otel_env: pytest.MonkeyPatch) -> None:
    # The batch processor sends every 5 s; a worker stopped by SIGTERM exits sooner. traced() flushes.
    clean_otel_env.setenv("OTEL_TRACES_EXPORTER", "console")
    clean_otel_env.setenv("OTEL_BSP_SCHEDULE_DELAY", "60000")
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60, check=True
    )
    span = json.loads(done.stdout)
    assert span["name"] == "last message"
    assert span["resource"]["attributes"]["service.name"] == "backdrop-score"


def test_off_imports_no_sdk(clean_otel_env: pytest.MonkeyPatch) -> None:
    program = (
        "import sys\nfrom streams.telemetry import traced\n"
        "with traced('api') as p:\n    assert p is None\n"
        "print('opentelemetry.sdk.trace' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"
