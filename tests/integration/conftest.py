"""Fixtures of the read-model tests (a projector, an API process, API keys), and worker logs shown with a
failed test."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from api.keys import NewKey
from base.settings import Settings
from tests.integration.api_fixtures import ApiProcess, new_api_key, start_api, start_projector
from tests.integration.pipeline_fixtures import log_tails


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test shows the end of each running worker's log: CI keeps nothing else of them."""
    report = yield
    if report.failed and call.when == "call":
        report.sections.extend(log_tails())
    return report


@pytest.fixture(scope="session")
def api_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api-logs")


@pytest.fixture(scope="session")
def projector(infra: Settings, api_logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``backdrop worker projector`` in its usual consumer group, for the whole session."""
    process = start_projector(infra, api_logs)
    yield process
    process.terminate()
    process.wait(30)


@pytest.fixture(scope="module")
def api(infra: Settings, projector: subprocess.Popen[bytes], api_logs: Path) -> Iterator[ApiProcess]:
    """One ``backdrop api`` process; uploads over 1 MB are refused so the limit is testable."""
    process = start_api(infra, api_logs, BACKDROP_UPLOAD_MAX_BYTES="1000000")
    yield process
    process.stop()


@pytest.fixture
def key(infra: Settings) -> NewKey:
    return new_api_key(infra, "tests")


@pytest.fixture
def other_key(infra: Settings) -> NewKey:
    return new_api_key(infra, "someone else")


@pytest.fixture
def empty_database(infra: Settings) -> Iterator[Settings]:
    """A database of its own on the tests' PostgreSQL (dropped after): no other projector writes there."""
    name = f"backdrop_scratch_{uuid.uuid4().hex[:12]}"
    # pool_pre_ping: a test may crash PostgreSQL, which ends the connection that created the database.
    admin = create_engine(infra.postgres_dsn, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield infra.model_copy(update={"postgres_db": name})
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
