"""Alembic environment: the URL comes from the caller's Settings (``api.migrate``), never from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from api.tables import Base

config = context.config


def run() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("api.migrate sets sqlalchemy.url; run migrations with `backdrop db upgrade`")
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
