"""The read model's commands: `backdrop api`, `backdrop web`, `backdrop db …`, `backdrop keys …`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from backdrop.cli.console import console, user_errors
from base.settings import Settings

db_app = typer.Typer(
    help="The read model's PostgreSQL schema (Alembic migrations).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(
    help="API keys: each owns its jobs and signs its webhooks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@user_errors
def api(
    host: Annotated[str | None, typer.Option(help="Bind address [default: BACKDROP_API_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: BACKDROP_API_PORT].")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the HTTP API (OpenAPI page at /docs); applies pending migrations first."""
    from api.app import serve

    serve(Settings(), host=host, port=port, log_level=log_level)


def web(
    key_file: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Put the key in this file into the address: the page signs in with it (what follows # "
            "never leaves the browser).",
        ),
    ] = None,
) -> None:
    """Print the address of the web app, which `backdrop api` serves at /."""
    url = f"{Settings().api_base_url}/"
    if key_file is not None:
        url += f"#key={key_file.read_text().strip()}"
    typer.echo(url)


@db_app.command("upgrade")
@user_errors
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from api.migrate import current, upgrade

    settings = Settings()
    upgrade(settings, revision)
    console.print(f"database at revision {current(settings)}")


@db_app.command("current")
@user_errors
def db_current() -> None:
    """Print the database's revision."""
    from api.migrate import current

    typer.echo(current(Settings()) or "(empty: run `backdrop db upgrade`)")


@keys_app.command("create")
@user_errors
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what the key is for.")],
    rate_limit: Annotated[
        int | None, typer.Option(min=1, help="Requests per minute [default: BACKDROP_RATE_LIMIT_PER_MINUTE].")
    ] = None,
) -> None:
    """Make a key; its webhook and submit secrets, then the key itself, are printed once (the key last)."""
    from sqlalchemy import create_engine

    from api.keys import create_key
    from api.migrate import upgrade
    from streams.signing import submit_secret

    settings = Settings()
    upgrade(settings)
    engine = create_engine(settings.postgres_dsn)
    try:
        with engine.begin() as conn:
            key = create_key(conn, name, rate_limit)
    finally:
        engine.dispose()
    console.print(f"key {key.id} ({name}); keep the secrets, they are not shown again")
    console.print(f"webhook signing secret: {key.webhook_secret}")
    root = settings.signing_secret.get_secret_value()
    console.print(f"submit secret (for `backdrop sign`): {submit_secret(root, key.id)}")
    typer.echo(key.secret)


@keys_app.command("list")
@user_errors
def keys_list() -> None:
    """The keys: id, name, created, revoked (never the secrets)."""
    from sqlalchemy import create_engine

    from api.keys import list_keys

    engine = create_engine(Settings().postgres_dsn)
    try:
        with engine.connect() as conn:
            rows = list_keys(conn)
    finally:
        engine.dispose()
    table = Table("id", "name", "created", "revoked")
    for row in rows:
        table.add_row(row.id, row.name, f"{row.created_at:%Y-%m-%d %H:%M}", f"{row.revoked_at or '-'}")
    Console().print(table)


@keys_app.command("revoke")
@user_errors
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…), from `keys list`.")],
) -> None:
    """Revoke a key; API processes stop accepting it within seconds."""
    from sqlalchemy import create_engine

    from api.keys import revoke_key

    engine = create_engine(Settings().postgres_dsn)
    try:
        with engine.begin() as conn:
            found = revoke_key(conn, key_id)
    finally:
        engine.dispose()
    if not found:
        console.print(f"no active key {key_id}; see `backdrop keys list`")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")
