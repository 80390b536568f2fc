"""Alembic environment: the URL comes from the caller's Settings (``api.migrate``), never from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from api.tables import Base

config = context.config
# Any constant will do, as long as nothing else in the database takes the same advisory lock.
MIGRATION_LOCK = 0x6261636B64726F70  # "backdrop"


def run() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("api.migrate sets sqlalchemy.url; run migrations with `backdrop db upgrade`")
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
        with context.begin_transaction():
            # Pods starting together migrate one at a time; the later ones find the work done.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            context.run_migrations()
    engine.dispose()


run()
