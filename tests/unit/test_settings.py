from __future__ import annotations

from pathlib import Path

import pytest

from base.settings import Settings


def test_defaults_are_loopback_on_non_default_ports() -> None:
    settings = Settings()
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.redis_url == "redis://127.0.0.1:16379/0"
    assert settings.postgres_dsn == "postgresql+psycopg://backdrop:backdrop@127.0.0.1:15432/backdrop"
    assert settings.s3_endpoint == "127.0.0.1:19000"


def test_every_endpoint_is_overridable_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKDROP_KAFKA_HOST", "kafka.internal")
    monkeypatch.setenv("BACKDROP_KAFKA_PORT", "9092")
    monkeypatch.setenv("BACKDROP_POSTGRES_PORT", "5432")
    monkeypatch.setenv("BACKDROP_REDIS_HOST", "cache")
    monkeypatch.setenv("BACKDROP_S3_PORT", "9000")
    monkeypatch.setenv("BACKDROP_STATE_DIR", "/var/tmp/bd")
    settings = Settings()
    assert settings.kafka_bootstrap == "kafka.internal:9092"
    assert settings.postgres_dsn.endswith("@127.0.0.1:5432/backdrop")
    assert settings.redis_url == "redis://cache:16379/0"
    assert settings.s3_endpoint == "127.0.0.1:9000"
    assert settings.state_dir == Path("/var/tmp/bd")


def test_secrets_stay_out_of_the_repr() -> None:
    assert "backdrop-secret" not in repr(Settings())


def test_settings_are_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        Settings().kafka_port = 1  # type: ignore[misc]
