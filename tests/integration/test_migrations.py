"""Migrations on a real PostgreSQL: they make the tables the code declares, and processes starting
together on an empty database all succeed."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from api.migrate import current, upgrade
from api.tables import Base
from base.settings import Settings
from tests.integration.api_fixtures import api_env

pytestmark = pytest.mark.integration


def test_the_migrations_make_the_tables_the_code_declares(empty_database: Settings) -> None:
    upgrade(empty_database)
    engine = create_engine(empty_database.postgres_dsn)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()


def test_concurrent_upgrades_of_an_empty_database_all_succeed(empty_database: Settings) -> None:
    """As pods starting together would: without the migration lock, all but one fail on duplicate tables."""
    env = api_env(empty_database, BACKDROP_POSTGRES_DB=empty_database.postgres_db)
    argv = [sys.executable, "-m", "backdrop", "db", "upgrade"]
    runs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(4)
    ]
    outputs = [run.communicate(timeout=120)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, "\n---\n".join(outputs)
    assert current(empty_database) is not None


def test_the_projector_migrates_an_empty_database_as_it_starts(empty_database: Settings) -> None:
    # README: "`backdrop up`, `backdrop api` and the projector apply them too".
    env = api_env(empty_database, "projector", BACKDROP_POSTGRES_DB=empty_database.postgres_db)
    projector = subprocess.Popen(
        [sys.executable, "-m", "backdrop", "worker", "projector"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while current(empty_database) is None:
            assert projector.poll() is None, "the projector exited"
            assert time.monotonic() < deadline, "the projector did not migrate the database within 60 s"
            time.sleep(0.5)
    finally:
        projector.terminate()
        projector.wait(30)
