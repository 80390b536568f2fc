"""Topic provisioning through confluent-kafka's AdminClient: explicit, never auto-create."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from base.errors import InfraError
from base.settings import Settings
from streams.topics import TopicSpec


def admin_client(settings: Settings) -> AdminClient:
    # librdkafka logs every refused connection to stderr; failures reach us as exceptions anyway.
    return AdminClient({**settings.kafka_config, "socket.timeout.ms": 5000, "log_level": 0})


def ensure_topics(admin: AdminClient, specs: Iterable[TopicSpec], timeout_s: float = 30.0) -> list[str]:
    """Create missing topics and grow short ones; returns the names created. Safe to call again."""
    specs = list(specs)
    existing = admin.list_topics(timeout=timeout_s).topics
    missing = [s for s in specs if s.name not in existing]
    created: list[str] = []
    if missing:
        futures = admin.create_topics(
            [
                NewTopic(s.name, num_partitions=s.partitions, replication_factor=1, config=s.config)
                for s in missing
            ],
            request_timeout=timeout_s,
        )
        for name, future in futures.items():
            try:
                future.result()
                created.append(name)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise InfraError(f"could not create topic {name}: {exc.args[0].str()}") from exc
    short = [s for s in specs if s.name in existing and len(existing[s.name].partitions) < s.partitions]
    if short:
        # Partitions can only grow; a topic with more than declared is left alone.
        futures = admin.create_partitions([NewPartitions(s.name, s.partitions) for s in short])
        for name, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                raise InfraError(f"could not grow topic {name}: {exc.args[0].str()}") from exc
    return created
