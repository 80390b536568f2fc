"""Jaeger's configuration as `infra up --observability` writes it, and the environment that points
processes at it."""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from base.settings import Settings
from infra import stack
from infra.jaeger_server import MODULE_DIR, collector_config, jaeger_version, traced_env


def _endpoints(value: object) -> list[str]:
    if isinstance(value, dict):
        return [e for key, item in value.items() for e in ([item] if key == "endpoint" else _endpoints(item))]
    if isinstance(value, list):
        return [e for item in value for e in _endpoints(item)]
    return []


def test_every_port_is_ours_and_on_our_address(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path, jaeger_otlp_port=34318, jaeger_query_port=39686, jaeger_query_grpc_port=39685
    )
    config = orjson.loads(collector_config(settings))
    assert sorted(_endpoints(config)) == ["127.0.0.1:34318", "127.0.0.1:39685", "127.0.0.1:39686"]
    # The collector's own metrics would otherwise listen on :8888 of every interface.
    assert config["service"]["telemetry"]["metrics"]["level"] == "none"
    assert config["service"]["pipelines"]["traces"]["receivers"] == ["otlp"]
    assert "ui" not in config["extensions"]["jaeger_query"]


def test_a_ui_build_is_served_when_given(tmp_path: Path) -> None:
    config = orjson.loads(collector_config(Settings(state_dir=tmp_path, jaeger_ui_assets=tmp_path)))
    assert config["extensions"]["jaeger_query"]["ui"] == {"assets_path": str(tmp_path.resolve())}


def test_the_version_is_the_one_the_module_pins() -> None:
    assert re.fullmatch(r"v\d+\.\d+\.\d+", jaeger_version())
    assert f"github.com/jaegertracing/jaeger {jaeger_version()}" in (MODULE_DIR / "go.mod").read_text()
    assert (MODULE_DIR / "go.sum").stat().st_size > 0


def test_processes_send_to_jaeger_unless_they_name_their_own_exporter() -> None:
    settings = Settings(jaeger_otlp_port=14318)
    assert traced_env(settings, {"PATH": "/bin"}) == {
        "PATH": "/bin",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:14318",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    }
    own = {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example:4318"}
    assert traced_env(settings, own) == own
    assert traced_env(settings, {"OTEL_TRACES_EXPORTER": "console"}) == {"OTEL_TRACES_EXPORTER": "console"}


def test_jaeger_is_a_server_only_when_asked_for_or_running(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    assert "jaeger" not in [service.name for service in stack.services(settings)]  # not running
    assert "jaeger" not in [service.name for service in stack.services(settings, False)]
    assert [service.name for service in stack.services(settings, True)][-1] == "jaeger"
