"""Topic provisioning through confluent-kafka's AdminClient (explicit, never auto-create), and partition
ends asked without waiting behind a consumer's fetch."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic, OffsetSpec

from base.errors import InfraError
from base.settings import Settings
from streams.topics import TopicSpec


def admin_client(settings: Settings) -> AdminClient:
    # librdkafka logs every refused connection to stderr; failures reach us as exceptions anyway.
    return AdminClient({**settings.kafka_config, "socket.timeout.ms": 5000, "log_level": 0})


class PartitionEnds:
    """Each partition's first kept offset and next offset, from its leader, in one request per bound.

    A consumer's own ``get_watermark_offsets`` asks over the connection its fetches use, and the broker
    answers a connection's requests in order: each query waits out the fetch in flight (up to
    ``fetch.wait.max.ms``, 500 ms). For a stage's 12 partitions that was 6 s in which the loop handled
    nothing, every 15 s. An admin client has connections of its own.
    """

    def __init__(self, connect: Callable[[], AdminClient], timeout_s: float = 5.0) -> None:
        """``connect`` makes the admin client when first needed: a loop that never measures opens none."""
        self.connect, self.timeout_s = connect, timeout_s
        self.admin: AdminClient | None = None

    def __call__(self, partitions: Sequence[TopicPartition]) -> list[tuple[int, int]]:
        """(low, high) for each of ``partitions``, in order; KafkaException when the broker does not say."""
        if not partitions:
            return []
        if self.admin is None:
            self.admin = self.connect()
        admin = self.admin
        keys = {(tp.topic, tp.partition): TopicPartition(tp.topic, tp.partition) for tp in partitions}
        low, high = (  # both asked before either answer is awaited
            admin.list_offsets(dict.fromkeys(keys.values(), spec), request_timeout=self.timeout_s)
            for spec in (OffsetSpec.earliest(), OffsetSpec.latest())  # type: ignore[no-untyped-call]
        )
        found = [keys[tp.topic, tp.partition] for tp in partitions]
        return [(low[tp].result().offset, high[tp].result().offset) for tp in found]


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
