"""The one settings object: every knob Backdrop reads from the environment (prefix ``BACKDROP_``)."""

from __future__ import annotations

import hashlib
import json
import ssl
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from base.devices import DEVICE_PATTERN


class Settings(BaseSettings):
    """Built once at each entry point and passed down; nothing else reads ``os.environ``."""

    model_config = SettingsConfigDict(env_prefix="BACKDROP_", frozen=True, extra="ignore")

    # The segmentation models this deployment serves: the API refuses a job naming another, the segment
    # workers load them by name (and keep them loaded).
    models: str = Field(
        "selfie,selfie-landscape",
        description="Comma-separated built-in model names and model-card paths (.json) the segment workers "
        "serve; every process of a deployment must see the same list.",
    )

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
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "SASL_PLAINTEXT", description="How clients reach the broker; the local one takes SASL_PLAINTEXT."
    )
    kafka_sasl_mechanism: str = Field("SCRAM-SHA-512", description="SASL mechanism of every Kafka client.")
    kafka_username: str | None = Field(
        None,
        description="This process's Kafka principal. Unset: the local stack's admin (from its state folder); "
        "`backdrop up` gives each worker its stage's principal.",
    )
    kafka_password: SecretStr | None = Field(None, description="The password of BACKDROP_KAFKA_USERNAME.")
    kafka_ca_file: Path | None = Field(
        None, description="PEM CA file for a broker reached over SSL/SASL_SSL."
    )

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
    s3_public_url: str | None = Field(
        None,
        description="Base URL clients reach the S3 server at (e.g. https://s3.example.com), for presigned "
        "upload and download URLs; the internal endpoint if unset.",
    )
    uploads_bucket: str = "backdrop-uploads"
    artifacts_bucket: str = "backdrop-artifacts"
    minio_module_version: str = Field(
        "v0.0.0-20260212201848-7aac2a2c5b7c",
        description="Version of github.com/minio/minio that `infra up` builds (go install).",
    )
    # The id under which MinIO registers its Kafka notification target; it is part of the ARN.
    minio_kafka_target: str = "BACKDROP"

    # Jaeger, the traces' receiver and viewer that `infra up --observability` builds and starts (OTLP over
    # HTTP in, query API and UI out, spans kept in memory). The processes send to it when the standard
    # OTEL_* variables say so (OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14318).
    jaeger_host: str = Field("127.0.0.1", description="Address Jaeger's ports bind to.")
    jaeger_otlp_port: int = Field(
        14318, description="Jaeger's OTLP/HTTP receiver (the standard 4318's role)."
    )
    jaeger_query_port: int = Field(19686, description="Jaeger's UI and HTTP query API (/api/traces).")
    jaeger_query_grpc_port: int = Field(19685, description="Jaeger's gRPC query API.")
    jaeger_max_traces: int = Field(100_000, gt=0, description="Traces Jaeger keeps in memory (oldest go).")
    jaeger_ui_assets: Path | None = Field(
        None,
        description="A built jaeger-ui folder for Jaeger to serve; the binary built from the Go module "
        "carries only a placeholder page (the query API works without it).",
    )

    # The HTTP API (`backdrop api`).
    api_host: str = Field("127.0.0.1", description="Address `backdrop api` binds to.")
    api_port: int = Field(18000, description="Port `backdrop api` listens on.")
    api_url: str | None = Field(
        None,
        description="Where clients (`backdrop submit --api`) reach the API [default: http://API_HOST:API_PORT].",
    )
    api_key: SecretStr | None = Field(None, description="The API key `backdrop submit --api` sends.")
    upload_max_bytes: int = Field(2 * 1024**3, description="Largest file POST /v1/uploads accepts.")
    rate_limit_per_minute: int = Field(
        1200, description="Requests per minute an API key may make, unless the key sets its own limit."
    )
    unauthenticated_per_minute: int = Field(
        60,
        gt=0,
        description="Requests per minute one client address may make without a valid key (then 429).",
    )
    sse_ping_s: float = Field(15.0, description="Seconds between keep-alive comments on an idle SSE stream.")
    sse_streams_per_key: int = Field(
        50, gt=0, description="SSE streams one API key may hold open on one API process; more get 429."
    )
    presign_expiry_s: int = Field(3600, description="How long presigned upload and download URLs stay valid.")
    chunk_memory_mb: int = Field(
        1024,
        gt=0,
        description="Most MiB one chunk's decoded frames may take; larger or faster video is cut in "
        "shorter chunks (4K at 60 fps: about 0.6 s).",
    )
    webhook_max_attempts: int = Field(12, description="Webhook POSTs tried before a delivery is given up.")
    webhook_deadline_s: float = Field(
        30.0, gt=0, description="Longest one webhook POST may take, from connecting to the answer's head."
    )
    signing_secret: SecretStr = Field(
        SecretStr("backdrop-dev-signing-secret"),
        description="Root of every API key's submit secret, with which a submit to backdrop.uploads proves "
        "its owner. Set a long random value in production: whoever knows it can sign for any key.",
    )
    webhook_secret: SecretStr | None = Field(
        None,
        description="Signs webhooks of jobs submitted without an API key (straight to Kafka); whsec_… form. "
        "Jobs of an API key are signed with that key's secret.",
    )

    # Outgoing requests to user-given URLs (job sources, webhooks): see backdrop/ssrf.py.
    url_allow_networks: tuple[IPvAnyNetwork, ...] = Field(
        (),
        description="Networks (CIDR) that source and webhook URLs may reach although they are private, "
        "loopback or otherwise non-public; a JSON list, e.g. '[\"10.20.0.0/16\"]'. Empty: public "
        "addresses only.",
    )
    url_max_bytes: int = Field(2 * 1024**3, gt=0, description="Largest source a URL may deliver, in bytes.")
    url_timeout_s: float = Field(
        30.0, gt=0, description="Longest wait to connect to a URL, or between two reads of its body."
    )
    url_deadline_s: float = Field(
        600.0,
        gt=0,
        description="Longest a whole URL download may take, redirects included; keep it well under the "
        "workers' max.poll.interval.ms (15 min).",
    )
    url_ca_file: Path | None = Field(
        None, description="PEM file of extra CAs trusted for source and webhook URLs (a private CA)."
    )

    # Kafka consumer groups: each stage's workers form <prefix>-<stage>, the projector <prefix>-projector.
    consumer_group_prefix: str = Field(
        "backdrop",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Start of every consumer group's name; a second deployment reading the same topics "
        "with another prefix sees every event again (a new group starts at the earliest offset).",
    )

    # Each consumer's pulse (streams.liveness), read by `backdrop status` and `backdrop probe`.
    pulse_dir: Path = Field(
        Path(tempfile.gettempdir()) / "backdrop-pulse",
        description="Folder where every worker writes when it last polled; a liveness probe reads it.",
    )

    log_format: Literal["text", "json"] = Field(
        "text",
        description="How workers log: text lines, or one JSON object per line with stage, job id, chunk "
        "and trace id.",
    )

    # Each worker's Prometheus metrics (streams.metrics).
    metrics_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Port a stage worker, the projector or the webhook dispatcher serves /metrics on; 0: "
        "any free port (found through the discovery files in METRICS_DIR); unset: none. `backdrop up` "
        "sets 0.",
    )
    metrics_host: str = Field("127.0.0.1", description="Address the workers' /metrics listen on.")
    metrics_dir: Path = Field(
        Path(tempfile.gettempdir()) / "backdrop-metrics",
        description="Folder of Prometheus file-discovery entries, one per worker serving /metrics.",
    )

    # What a job leaves behind (streams.retention, agents.workers.janitor).
    retention_days: int = Field(
        30,
        ge=0,
        description="Days a job's outputs and its upload are kept (bucket lifecycle rules that `backdrop "
        "infra provision` sets); 0 keeps them until the job is deleted.",
    )
    cleanup_grace_s: float = Field(
        60.0,
        ge=0,
        description="Seconds the janitor waits after a job ends before deleting its intermediates: "
        "longer than a stage takes on one chunk, so no chunk still in a worker's hands writes after.",
    )

    # Decoded chunks shared by the stage workers of one machine (agents.workers.frame_cache).
    frame_cache_dir: Path | None = Field(
        None,
        description="RAM-backed folder where workers on one machine share decoded chunks; "
        "default: under /dev/shm (else the temp folder), one per state folder.",
    )
    frame_cache_mb: int | None = Field(
        None,
        ge=0,
        description="Most MiB of decoded frames the workers of one machine keep (a 2 s 720p chunk is "
        "~190 MiB, a 60 s 720p job ~5.6 GiB); default: no fixed bound, only FRAME_CACHE_KEEP_FREE; "
        "0 turns the cache off and every stage decodes its chunks itself.",
    )
    frame_cache_keep_free: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Share of the machine's memory (or its container's limit) the frame cache leaves "
        "available to everything else: a chunk is not kept when it would leave less.",
    )

    decode_device: str = Field(
        "auto",
        pattern=DEVICE_PATTERN,
        description="Where workers decode video: auto (NVDEC where an NVIDIA GPU answers, else the CPU), "
        "cpu, or cuda / cuda:N (a score, segment, matte or composite worker then refuses to start where "
        "no GPU answers; the other stages never decode).",
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
    def chunk_memory_bytes(self) -> int:
        return self.chunk_memory_mb * 2**20

    def consumer_group(self, name: str) -> str:
        """The consumer group of a stage or service, e.g. ``segment`` → ``backdrop-segment``."""
        return f"{self.consumer_group_prefix}-{name}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_host}:{self.kafka_port}"

    @property
    def kafka_principals_file(self) -> Path:
        """Where the local broker keeps each principal's password (written by `infra up`, mode 0600)."""
        return self.state_dir / "kafka" / "principals.json"

    def kafka_credentials(self) -> tuple[str, str] | None:
        """(user, password) this process authenticates with: the configured ones, else the local stack's
        admin; None when there are neither (a broker without SASL)."""
        if self.kafka_username is not None:
            password = self.kafka_password.get_secret_value() if self.kafka_password else ""
            return self.kafka_username, password
        try:
            local = json.loads(self.kafka_principals_file.read_text())
        except (OSError, ValueError):
            return None
        return ("admin", local["admin"]) if isinstance(local, dict) and "admin" in local else None

    @property
    def kafka_config(self) -> dict[str, str]:
        """librdkafka (confluent-kafka) settings that reach and authenticate to the broker."""
        config = {
            "bootstrap.servers": self.kafka_bootstrap,
            "security.protocol": self.kafka_security_protocol,
        }
        if self.kafka_security_protocol.startswith("SASL"):
            user, password = self.kafka_credentials() or ("", "")
            config |= {
                "sasl.mechanisms": self.kafka_sasl_mechanism,
                "sasl.username": user,
                "sasl.password": password,
            }
        if self.kafka_ca_file is not None:
            config["ssl.ca.location"] = str(self.kafka_ca_file)
        return config

    @property
    def aiokafka_config(self) -> dict[str, Any]:
        """The same for aiokafka's clients (keyword arguments)."""
        config: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap,
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_security_protocol.startswith("SASL"):
            user, password = self.kafka_credentials() or ("", "")
            config |= {
                "sasl_mechanism": self.kafka_sasl_mechanism,
                "sasl_plain_username": user,
                "sasl_plain_password": password,
            }
        if self.kafka_security_protocol.endswith("SSL"):
            config["ssl_context"] = ssl.create_default_context(
                cafile=str(self.kafka_ca_file) if self.kafka_ca_file else None
            )
        return config

    @property
    def postgres_dsn(self) -> str:
        """SQLAlchemy URL (psycopg 3 driver)."""
        return (
            f"postgresql+psycopg://{self.postgres_user}:{self.postgres_password.get_secret_value()}"
            f"@{self.postgres_host}:{self.postgres_port}/{self.postgres_db}"
        )

    @property
    def jaeger_otlp_url(self) -> str:
        """What OTEL_EXPORTER_OTLP_ENDPOINT should say to send spans to the local Jaeger."""
        return f"http://{self.jaeger_host}:{self.jaeger_otlp_port}"

    @property
    def jaeger_query_url(self) -> str:
        return f"http://{self.jaeger_host}:{self.jaeger_query_port}"

    @property
    def api_base_url(self) -> str:
        return (self.api_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

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
