"""Shared fixtures: the settings object, and the real servers, brought up the way users do."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from base.settings import Settings
from streams.admin import admin_client, ensure_topics
from streams.topics import DAY_MS, TopicSpec


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def infra(settings: Settings) -> Iterator[Settings]:
    """The four servers, started through `infra.stack.up` (the code behind `backdrop infra up`).

    A stack that was already healthy is left running afterwards; one this session started is stopped.
    """
    from infra import stack

    was_up = all(row.healthy for row in stack.status(settings))
    rows = stack.up(settings)
    assert all(row.healthy for row in rows), rows
    yield settings
    if not was_up:
        stack.down(settings)


@pytest.fixture
def scratch_topic(infra: Settings) -> str:
    """A fresh one-partition topic, so tests never read each other's messages."""
    spec = TopicSpec(f"test.{uuid.uuid4().hex[:12]}", 1, DAY_MS, "test scratch topic")
    ensure_topics(admin_client(infra.kafka_bootstrap), [spec])
    return spec.name
