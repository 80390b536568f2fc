"""Apply the read model's Alembic migrations (``backdrop db upgrade``, and ``backdrop up``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from base.settings import Settings

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # '%' is ConfigParser's interpolation character; a password may contain one.
    config.set_main_option("sqlalchemy.url", settings.postgres_dsn.replace("%", "%%"))
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the database to ``revision``; a database already there is left alone."""
    command.upgrade(alembic_config(settings), revision)


def current(settings: Settings) -> str | None:
    """The revision the database is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(settings.postgres_dsn)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
