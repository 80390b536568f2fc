"""The servers together: up in dependency order, down in reverse, status of each.

The four the pipeline needs always; Jaeger (traces) when asked for with ``observability``, and in status
and down whenever it runs.
"""

from __future__ import annotations

from base.settings import Settings
from infra.jaeger_server import JaegerServer
from infra.kafka_server import KafkaServer
from infra.minio_server import MinioServer
from infra.postgres_server import PostgresServer
from infra.redis_server import RedisServer
from infra.service import Health, Service
from infra.steps import step


def services(settings: Settings, observability: bool | None = None) -> list[Service]:
    """Start order: MinIO comes after Kafka because its notification target connects at start.

    ``observability``: with Jaeger (True), without (False), or with it if it runs (None).
    """
    found: list[Service] = [
        PostgresServer(settings),
        RedisServer(settings),
        KafkaServer(settings),
        MinioServer(settings),
    ]
    jaeger = JaegerServer(settings)
    if observability or (observability is None and jaeger.pid() is not None):
        found.append(jaeger)
    return found


def up(settings: Settings, observability: bool = False) -> list[Health]:
    """Start whatever is not running and healthy, then provision each server. Idempotent."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    for service in services(settings, observability):
        with step(f"{service.name} on {service.endpoint}"):
            service.up()
    return status(settings)


def provision(settings: Settings) -> None:
    """Only the in-server part of ``up`` (database, topics, buckets), for servers someone else runs."""
    for service in services(settings, False):
        with step(f"provisioning {service.name} on {service.endpoint}"):
            service.provision()


def down(settings: Settings) -> None:
    """Stop the servers ``up`` started (found by their pid files), in reverse order."""
    for service in reversed(services(settings)):
        with step(f"stopping {service.name}"):
            service.stop()


def status(settings: Settings) -> list[Health]:
    return [service.health() for service in services(settings)]
