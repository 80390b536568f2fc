"""docker-compose.kafka.yml cannot run here; check that it agrees with the settings object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from base.settings import Settings
from schemas import PIPELINE
from streams.topics import STORAGE_EVENTS

# The stages that read a chunk's frames (agents/workers: context.chunk_frames) and so share its decode.
FRAME_STAGES = ("score", "segment", "matte", "composite")

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.kafka.yml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return parsed["services"]  # type: ignore[no-any-return]


def _host_ports(service: dict[str, Any]) -> set[int]:
    # "127.0.0.1:HOST:CONTAINER" → HOST
    return {int(str(mapping).split(":")[-2]) for mapping in service.get("ports", [])}


def test_the_four_servers_are_there(services: dict[str, Any]) -> None:
    assert {"kafka", "postgres", "redis", "minio"} <= services.keys()


def test_host_ports_match_the_settings_defaults(services: dict[str, Any]) -> None:
    s = Settings()
    assert _host_ports(services["kafka"]) == {s.kafka_port}
    assert _host_ports(services["postgres"]) == {s.postgres_port}
    assert _host_ports(services["redis"]) == {s.redis_port}
    assert _host_ports(services["minio"]) == {s.s3_port}
    for service in ("kafka", "postgres", "redis", "minio"):
        assert all(str(p).startswith("127.0.0.1:") for p in services[service]["ports"]), service


def test_kafka_advertises_the_settings_bootstrap_to_the_host(services: dict[str, Any]) -> None:
    env = services["kafka"]["environment"]
    assert f"EXTERNAL://{Settings().kafka_bootstrap}" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_credentials_match_the_settings(services: dict[str, Any]) -> None:
    s = Settings()
    pg = services["postgres"]["environment"]
    assert (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]) == (
        s.postgres_user,
        s.postgres_password.get_secret_value(),
        s.postgres_db,
    )
    minio = services["minio"]["environment"]
    assert minio["MINIO_ROOT_USER"] == s.s3_access_key
    assert minio["MINIO_ROOT_PASSWORD"] == s.s3_secret_key.get_secret_value()
    assert minio["MINIO_REGION"] == s.s3_region


def test_minio_notifies_the_declared_topic_under_the_settings_target(services: dict[str, Any]) -> None:
    target = Settings().minio_kafka_target
    env = services["minio"]["environment"]
    assert env[f"MINIO_NOTIFY_KAFKA_ENABLE_{target}"] == "on"
    assert env[f"MINIO_NOTIFY_KAFKA_TOPIC_{target}"] == STORAGE_EVENTS.name
    assert env[f"MINIO_NOTIFY_KAFKA_BROKERS_{target}"].split(",")[0].startswith("kafka:")


def test_provision_points_at_every_compose_server(services: dict[str, Any]) -> None:
    env = services["provision"]["environment"]
    fields = Settings.model_fields
    for name in env:
        assert name.startswith("BACKDROP_"), name
        assert name.removeprefix("BACKDROP_").lower() in fields, name
    assert {
        env["BACKDROP_KAFKA_HOST"],
        env["BACKDROP_POSTGRES_HOST"],
        env["BACKDROP_S3_HOST"],
    } <= services.keys()


def test_one_worker_service_per_stage(services: dict[str, Any]) -> None:
    for stage in PIPELINE:
        worker = services[f"worker-{stage}"]
        assert worker["command"] == ["backdrop", "worker", stage]
        own = {k: v for k, v in worker["environment"].items() if k != "BACKDROP_FRAME_CACHE_DIR"}
        assert own == services["provision"]["environment"]


def test_the_stages_that_decode_frames_share_one_ram_volume(services: dict[str, Any]) -> None:
    parsed = yaml.safe_load(COMPOSE.read_text())
    options = parsed["volumes"]["frames"]["driver_opts"]
    assert options["type"] == "tmpfs"
    assert "uid=65534" in options["o"]  # the image's user (Dockerfile: USER nobody) must own it
    for stage in FRAME_STAGES:
        worker = services[f"worker-{stage}"]
        assert worker["environment"]["BACKDROP_FRAME_CACHE_DIR"] == "/frames"
        assert worker["volumes"] == ["frames:/frames"]
    for stage in set(PIPELINE) - set(FRAME_STAGES):
        assert "volumes" not in services[f"worker-{stage}"]


# The read model's long-running services, as `backdrop up` starts them (infra/workers.py SERVICES).
READ_MODEL = {
    "projector": ["backdrop", "worker", "projector"],
    "webhooks": ["backdrop", "worker", "webhooks"],
    "api": ["backdrop", "api", "--host", "0.0.0.0"],
}
MIGRATED = {"migrate": {"condition": "service_completed_successfully"}}


def test_the_janitor_starts_after_provision(services: dict[str, Any]) -> None:
    janitor = services["janitor"]
    assert janitor["command"] == ["backdrop", "worker", "janitor"]
    assert janitor["environment"] == services["provision"]["environment"]
    assert janitor["depends_on"] == {"provision": {"condition": "service_completed_successfully"}}


def test_migrations_run_once_after_provision(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert migrate["command"] == ["backdrop", "db", "upgrade"]
    assert migrate["environment"] == services["provision"]["environment"]
    assert migrate["depends_on"] == {"provision": {"condition": "service_completed_successfully"}}
    assert "restart" not in migrate  # a one-shot: restarting it would hold its dependants back


def test_the_read_model_starts_after_the_migrations(services: dict[str, Any]) -> None:
    from infra.workers import SERVICES

    assert set(READ_MODEL) == set(SERVICES) - {"janitor"}
    for name, command in READ_MODEL.items():
        service = services[name]
        assert service["command"] == command, name
        assert service["environment"] == services["provision"]["environment"], name
        assert service["depends_on"] == MIGRATED, name


def test_the_api_is_on_the_settings_port_and_healthy_when_ready(services: dict[str, Any]) -> None:
    port = Settings().api_port
    api = services["api"]
    assert api["ports"] == [f"127.0.0.1:{port}:{port}"]
    probe = " ".join(api["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/readyz" in probe


@pytest.mark.parametrize("command", [["db", "upgrade"], ["api"], ["worker"]])
def test_the_commands_exist(command: list[str]) -> None:
    from typer.testing import CliRunner

    from backdrop.cli import app

    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    if command == ["api"]:
        assert "--host" in result.output
