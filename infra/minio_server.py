"""MinIO built from its Go module, with a Kafka notification target for the uploads bucket."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from minio import Minio
from minio.commonconfig import ENABLED, Filter
from minio.error import S3Error
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule
from minio.notificationconfig import NotificationConfig, QueueConfig

from base.errors import InfraError
from base.settings import Settings
from infra import system_packages
from infra.kafka_acls import principal_password
from infra.processes import spawn, wait_until
from infra.service import Service
from infra.steps import step
from streams.store import JOBS_PREFIX
from streams.topics import STORAGE_EVENTS

MODULE = "github.com/minio/minio"


def s3_client(settings: Settings) -> Minio:
    return Minio(
        settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
    )


class MinioServer(Service):
    name = "minio"

    @property
    def endpoint(self) -> str:
        return self.settings.s3_endpoint

    @property
    def binary(self) -> Path:
        return self.settings.cache_dir / f"minio-{self.settings.minio_module_version}" / "minio"

    def install(self) -> None:
        system_packages.ensure({"go": "golang-go"})
        if self.binary.exists():
            return
        # Built once per pinned version and kept in the cache: a cold build takes a few minutes.
        gobin = self.binary.parent.with_name(self.binary.parent.name + ".partial")
        shutil.rmtree(gobin, ignore_errors=True)
        env = {**os.environ, "GOBIN": str(gobin), "CGO_ENABLED": "0"}
        with step(f"building MinIO {self.settings.minio_module_version} with go (once per version, minutes)"):
            result = subprocess.run(
                ["go", "install", f"{MODULE}@{self.settings.minio_module_version}"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise InfraError(f"building MinIO with `go install` failed:\n{result.stderr[-3000:]}")
        shutil.rmtree(self.binary.parent, ignore_errors=True)
        gobin.rename(self.binary.parent)

    def _kafka_sasl(self, target: str) -> dict[str, str]:
        """MinIO publishes bucket notifications as the ``minio`` principal (write on one topic only)."""
        password = principal_password(self.settings, "minio")
        if password is None:
            return {}
        mechanism = self.settings.kafka_sasl_mechanism.removeprefix("SCRAM-").replace("-", "").lower()
        return {
            f"MINIO_NOTIFY_KAFKA_SASL_{target}": "on",
            f"MINIO_NOTIFY_KAFKA_SASL_USERNAME_{target}": "minio",
            f"MINIO_NOTIFY_KAFKA_SASL_PASSWORD_{target}": password,
            f"MINIO_NOTIFY_KAFKA_SASL_MECHANISM_{target}": mechanism,
        }

    def start(self) -> None:
        s = self.settings
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        target = s.minio_kafka_target
        env = {
            **_base_env(),
            "MINIO_ROOT_USER": s.s3_access_key,
            "MINIO_ROOT_PASSWORD": s.s3_secret_key.get_secret_value(),
            "MINIO_REGION": s.s3_region,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
            f"MINIO_NOTIFY_KAFKA_ENABLE_{target}": "on",
            f"MINIO_NOTIFY_KAFKA_BROKERS_{target}": s.kafka_bootstrap,
            f"MINIO_NOTIFY_KAFKA_TOPIC_{target}": STORAGE_EVENTS.name,
            # Events wait on disk while Kafka is unreachable (a broker restart loses no upload), and the
            # target registers even when Kafka is slow to answer at MinIO's start.
            f"MINIO_NOTIFY_KAFKA_QUEUE_DIR_{target}": str(self.home / "notify-queue"),
            **self._kafka_sasl(target),
        }
        spawn(
            [str(self.binary), "server", str(data), "--address", self.endpoint, "--quiet"],
            pid_file=self.pid_file,
            log_file=self.log_file,
            env=env,
        )
        wait_until(
            self.is_ready,
            timeout_s=s.ready_timeout_s,
            what="MinIO",
            log_file=self.log_file,
            still_running=lambda: self.pid() is not None,
        )

    def probe(self) -> str | None:
        url = f"{'https' if self.settings.s3_secure else 'http'}://{self.endpoint}/minio/health/ready"
        try:
            with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - our own loopback server
                return None if response.status == 200 else f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            return str(exc)

    def provision(self) -> None:
        s = self.settings
        client = s3_client(s)
        try:
            for bucket in (s.uploads_bucket, s.artifacts_bucket):
                if not client.bucket_exists(bucket):
                    client.make_bucket(bucket)
            set_retention(client, s)
        except S3Error as exc:
            raise InfraError(f"preparing the buckets failed: {exc.code}: {exc.message}") from exc
        # Every object created in the uploads bucket becomes an event on the storage-events topic. The
        # Kafka target can register a moment after MinIO answers health checks: retry until it is there.
        config = NotificationConfig(
            queue_config_list=[
                QueueConfig(
                    ["s3:ObjectCreated:*"], config_id="backdrop-uploads", queue=s.minio_notification_arn
                )
            ]
        )
        deadline = time.monotonic() + s.ready_timeout_s
        while True:
            try:
                client.set_bucket_notification(s.uploads_bucket, config)
                return
            except S3Error as exc:
                if exc.code != "InvalidArgument" or time.monotonic() > deadline:
                    raise InfraError(
                        f"setting the upload notification failed: {exc.code}: {exc.message} "
                        f"(see {self.log_file})"
                    ) from exc
                time.sleep(0.5)


def retention_rules(settings: Settings) -> dict[str, LifecycleConfig | None]:
    """Each bucket's lifecycle: uploads, and jobs' outputs, expire ``retention_days`` after they were
    written (None: kept until deleted). A job's intermediates are gone long before (the janitor)."""
    if settings.retention_days == 0:
        return {settings.uploads_bucket: None, settings.artifacts_bucket: None}
    expire = Expiration(days=settings.retention_days)
    return {
        settings.uploads_bucket: LifecycleConfig(
            [Rule(ENABLED, rule_filter=Filter(prefix=""), rule_id="backdrop-retention", expiration=expire)]
        ),
        settings.artifacts_bucket: LifecycleConfig(
            [
                Rule(
                    ENABLED,
                    rule_filter=Filter(prefix=JOBS_PREFIX),
                    rule_id="backdrop-retention",
                    expiration=expire,
                )
            ]
        ),
    }


def set_retention(client: Minio, settings: Settings) -> None:
    for bucket, rules in retention_rules(settings).items():
        if rules is None:
            client.delete_bucket_lifecycle(bucket)
        else:
            client.set_bucket_lifecycle(bucket, rules)


def _base_env() -> dict[str, str]:
    # The server needs little of ours; PATH and HOME keep it from guessing.
    return {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TZ"}}
