"""Apache Kafka in KRaft mode, one node, from the official jars on Maven Central."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import KafkaException

from base.errors import InfraError
from infra import system_packages
from infra.processes import spawn, wait_until
from infra.service import Service
from streams.admin import admin_client, ensure_topics
from streams.topics import ALL_TOPICS

POM = Path(__file__).parent / "kafka" / "pom.xml"
LOG4J_CONFIG = Path(__file__).parent / "kafka" / "log4j2.properties"


def new_cluster_id(random_bytes: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """16 random bytes in URL-safe base64, the form StorageTool's random-uuid prints, never starting with
    '-': the tool's argument parser would take ``-t -…`` for a missing value (one format in 64 failed so)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(random_bytes()).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaServer(Service):
    name = "kafka"

    @property
    def endpoint(self) -> str:
        return self.settings.kafka_bootstrap

    @property
    def libs(self) -> Path:
        # Keyed by the pom's content: a changed version or dependency list fetches afresh.
        digest = base64.b32encode(hashlib.sha256(POM.read_bytes()).digest()[:10]).decode().lower()
        return self.settings.cache_dir / f"kafka-libs-{digest}"

    def install(self) -> None:
        system_packages.ensure({"java": "openjdk-17-jre-headless", "mvn": "maven"})
        if (self.libs / ".complete").exists():
            return
        partial = self.libs.with_name(self.libs.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        result = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={partial}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise InfraError(
                f"Maven could not fetch the Kafka jars:\n{(result.stdout + result.stderr)[-3000:]}"
            )
        (partial / ".complete").touch()
        shutil.rmtree(self.libs, ignore_errors=True)
        partial.rename(self.libs)

    def start(self) -> None:
        data = self.home / "data"
        props = self.home / "server.properties"
        props.parent.mkdir(parents=True, exist_ok=True)
        props.write_text(self._server_properties(data))
        if not (data / "meta.properties").exists():
            self._format(props)
        spawn(
            [*self._java(), "kafka.Kafka", str(props)],
            pid_file=self.pid_file,
            log_file=self.log_file,
        )
        wait_until(
            self.is_ready,
            timeout_s=self.settings.ready_timeout_s,
            what="Kafka",
            log_file=self.home / "logs" / "server.log",
            still_running=lambda: self.pid() is not None,
        )

    def provision(self) -> None:
        ensure_topics(admin_client(self.endpoint), ALL_TOPICS)

    def probe(self) -> str | None:
        try:
            metadata = admin_client(self.endpoint).list_topics(timeout=3)
        except KafkaException as exc:
            return str(exc.args[0].str() if exc.args else exc)
        if not metadata.brokers:
            return "no broker in the metadata"
        return None

    def _java(self) -> list[str]:
        logs = self.home / "logs"
        return [
            "java",
            f"-Xmx{self.settings.kafka_heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={logs}",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            f"{self.libs}/*",
        ]

    def _format(self, props: Path) -> None:
        cluster_id = new_cluster_id()
        result = subprocess.run(
            [*self._java(), "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise InfraError(f"formatting Kafka storage failed:\n{(result.stdout + result.stderr)[-3000:]}")

    def _server_properties(self, data: Path) -> str:
        s = self.settings
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{s.kafka_host}:{s.kafka_controller_port}",
                f"listeners=PLAINTEXT://{s.kafka_host}:{s.kafka_port},CONTROLLER://{s.kafka_host}:{s.kafka_controller_port}",
                f"advertised.listeners=PLAINTEXT://{s.kafka_host}:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={data}",
                # Topics are declared in streams/topics.py and created explicitly.
                "auto.create.topics.enable=false",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                # One node: waiting for more group members to join buys nothing and slows every test.
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )
