"""The one settings object: every knob Backdrop reads from the environment (prefix ``BACKDROP_``)."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Built once at each entry point and passed down; nothing else reads ``os.environ``."""

    model_config = SettingsConfigDict(env_prefix="BACKDROP_", frozen=True, extra="ignore")

    # Where the local servers keep their data, logs and pid files, and where downloads are cached.
    state_dir: Path = Field(Path(".backdrop"), description="Data, logs and pid files of the local servers.")
    cache_dir: Path = Field(
        Path.home() / ".cache" / "backdrop",
        description="Downloaded Kafka jars and the built S3 server binary; safe to delete.",
    )

    # Kafka (KRaft, single node).
    kafka_host: str = "127.0.0.1"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_heap: str = Field("768m", description="JVM heap of the local broker (-Xmx).")

    # PostgreSQL.
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 15432
    postgres_user: str = "backdrop"
    postgres_password: SecretStr = SecretStr("backdrop")
    postgres_db: str = "backdrop"

    # Redis.
    redis_host: str = "127.0.0.1"
    redis_port: int = 16379

    # S3-compatible object store (MinIO).
    s3_host: str = "127.0.0.1"
    s3_port: int = 19000
    s3_access_key: str = "backdrop"
    s3_secret_key: SecretStr = SecretStr("backdrop-secret")
    s3_region: str = "us-east-1"
    s3_secure: bool = False
    uploads_bucket: str = "backdrop-uploads"
    artifacts_bucket: str = "backdrop-artifacts"
    minio_module_version: str = Field(
        "v0.0.0-20260212201848-7aac2a2c5b7c",
        description="Version of github.com/minio/minio that `infra up` builds (go install).",
    )
    # The id under which MinIO registers its Kafka notification target; it is part of the ARN.
    minio_kafka_target: str = "BACKDROP"

    # Decoded chunks shared by the stage workers of one machine (agents.frame_cache).
    frame_cache_dir: Path | None = Field(
        None,
        description="RAM-backed folder where workers on one machine share decoded chunks; "
        "default: under /dev/shm (else the temp folder), one per state folder.",
    )
    frame_cache_mb: int = Field(
        3072,
        ge=0,
        description="Most MiB of decoded frames the workers of one machine keep (a 2 s 720p chunk is "
        "~190 MiB); 0 turns the cache off and every stage decodes its chunks itself.",
    )

    # How long `infra up` waits for each server to answer a real client call.
    ready_timeout_s: float = 90.0

    @property
    def frame_cache_folder(self) -> Path:
        """Where the decoded-chunk cache lives: the setting, or a RAM disk folder for this state folder."""
        if self.frame_cache_dir is not None:
            return self.frame_cache_dir
        shm = Path("/dev/shm")  # noqa: S108 - a RAM disk on purpose; FrameCache refuses a folder not ours
        base = shm if shm.is_dir() else Path(tempfile.gettempdir())
        # Separate stacks on one machine (each its own state folder) keep separate caches and limits.
        tag = hashlib.sha256(str(self.state_dir.resolve()).encode()).hexdigest()[:12]
        return base / f"backdrop-frames-{tag}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_host}:{self.kafka_port}"

    @property
    def postgres_dsn(self) -> str:
        """SQLAlchemy URL (psycopg 3 driver)."""
        return (
            f"postgresql+psycopg://{self.postgres_user}:{self.postgres_password.get_secret_value()}"
            f"@{self.postgres_host}:{self.postgres_port}/{self.postgres_db}"
        )

    @property
    def redis_url(self) -> str:
        return f"redis://{self.redis_host}:{self.redis_port}/0"

    @property
    def s3_endpoint(self) -> str:
        """host:port, the form the minio client takes."""
        return f"{self.s3_host}:{self.s3_port}"

    @property
    def minio_notification_arn(self) -> str:
        return f"arn:minio:sqs::{self.minio_kafka_target}:kafka"
