"""Shared fixtures: the settings object, and the real servers, brought up the way users do.

The tests run a stack of their own: its own state folder and ports, set here before any settings object
is built, so that every process they start sees them too. A stack that `make run` or `backdrop up`
started on this machine is neither used nor stopped by the tests.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from base.settings import Settings
from streams.admin import admin_client, ensure_topics
from streams.topics import DAY_MS, TopicSpec
from tests.stacks import stack_env

if TYPE_CHECKING:
    from infra.jaeger_server import JaegerServer

# Every default port + 10000: 29092, 29093, 25432, 26379, 29000, 28000. A second checkout on the same
# machine runs its tests beside ours with another offset (BACKDROP_TEST_PORT_OFFSET=20000).
PORT_OFFSET = int(os.environ.get("BACKDROP_TEST_PORT_OFFSET", "10000"))
os.environ.update(stack_env(Path(__file__).resolve().parents[1] / ".backdrop" / "test-stack", PORT_OFFSET))
for _name in ("BACKDROP_API_URL", "BACKDROP_CONSUMER_GROUP_PREFIX"):  # they would point past our stack
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def infra(settings: Settings) -> Iterator[Settings]:
    """The tests' four servers, started through `infra.stack.up` (the code behind `backdrop infra up`)
    and stopped at the end of the session (those of an interrupted session are reused, then stopped)."""
    from infra import stack

    rows = stack.up(settings)
    assert all(row.healthy for row in rows), rows
    yield settings
    stack.down(settings)
    shutil.rmtree(settings.frame_cache_folder, ignore_errors=True)  # RAM the workers' chunks held


@pytest.fixture
def scratch_topic(infra: Settings) -> str:
    """A fresh one-partition topic, so tests never read each other's messages."""
    spec = TopicSpec(f"test.{uuid.uuid4().hex[:12]}", 1, DAY_MS, "test scratch topic")
    ensure_topics(admin_client(infra), [spec])
    return spec.name


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Building Jaeger takes minutes on a fresh machine: when the traces test will need it, start the build
    now, niced, in the background; its fixture waits for it (``JaegerServer.install`` takes a lock)."""
    if not any(item.path.name == "test_traces.py" for item in items):
        return
    from infra.jaeger_server import JaegerServer

    server = JaegerServer(Settings())
    if not server.binary.exists():
        threading.Thread(target=_build_quietly, args=(server,), name="jaeger-build", daemon=True).start()


def _build_quietly(server: JaegerServer) -> None:
    try:
        server.install()
    except Exception:  # the fixture builds again, and fails with the reason
        logging.getLogger("tests").exception("building Jaeger in the background failed")
