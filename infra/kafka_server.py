"""Apache Kafka in KRaft mode, one node, from the official jars on Maven Central."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import KafkaException

from base.errors import InfraError
from infra import kafka_acls, system_packages
from infra.kafka_acls import ADMIN, local_passwords
from infra.processes import spawn, wait_until
from infra.service import Service
from infra.steps import step
from streams.admin import admin_client, ensure_topics
from streams.topics import ALL_TOPICS

POM = Path(__file__).parent / "kafka" / "pom.xml"
LOG4J_CONFIG = Path(__file__).parent / "kafka" / "log4j2.properties"
log = logging.getLogger(__name__)


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
        with step("fetching the Kafka broker's jars from Maven Central (once per version)"):
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
        if (data / "meta.properties").exists() and not self.settings.kafka_principals_file.exists():
            # Formatted by a version without SASL: its metadata has no admin credential to start with.
            log.warning("the local broker's data predates SASL; starting it afresh (topics are recreated)")
            shutil.rmtree(data)
        passwords = local_passwords(self.settings)
        props.touch(mode=0o600)
        os.chmod(props, 0o600)  # before it holds the admin password
        props.write_text(self._server_properties(data, passwords[ADMIN]))
        if not (data / "meta.properties").exists():
            self._format(props, passwords[ADMIN])
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
        admin = admin_client(self.settings)
        kafka_acls.apply(admin, local_passwords(self.settings), self.settings.consumer_group_prefix)
        ensure_topics(admin, ALL_TOPICS)

    def probe(self) -> str | None:
        try:
            metadata = admin_client(self.settings).list_topics(timeout=3)
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

    def _format(self, props: Path, admin_password: str) -> None:
        cluster_id = new_cluster_id()
        # The super user's SCRAM credential goes in with the metadata: the broker authenticates to
        # itself with it before anything else can be created.
        admin = f"SCRAM-SHA-512=[name={ADMIN},password={admin_password}]"
        result = subprocess.run(
            [
                *self._java(),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(props),
                "--add-scram",
                admin,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise InfraError(f"formatting Kafka storage failed:\n{(result.stdout + result.stderr)[-3000:]}")

    def _server_properties(self, data: Path, admin_password: str) -> str:
        s = self.settings
        scram = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN}" password="{admin_password}";'
        )
        # The controller listener takes PLAIN (KRaft cannot check SCRAM before its metadata is loaded).
        plain = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{ADMIN}" password="{admin_password}" user_{ADMIN}="{admin_password}";'
        )
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{s.kafka_host}:{s.kafka_controller_port}",
                f"listeners=SASL_PLAINTEXT://{s.kafka_host}:{s.kafka_port},CONTROLLER://{s.kafka_host}:{s.kafka_controller_port}",
                f"advertised.listeners=SASL_PLAINTEXT://{s.kafka_host}:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=SASL_PLAINTEXT",
                "listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
                # Every client proves who it is (SCRAM); the authorizer allows only what infra/kafka_acls.py
                # grants; the admin principal is the one super user.
                "sasl.enabled.mechanisms=SCRAM-SHA-512",
                "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
                f"listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config={scram}",
                "sasl.mechanism.controller.protocol=PLAIN",
                "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
                f"listener.name.controller.plain.sasl.jaas.config={plain}",
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                f"super.users=User:{ADMIN}",
                "allow.everyone.if.no.acl.found=false",
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
