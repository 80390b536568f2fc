"""`backdrop infra …`: the local servers (Kafka, PostgreSQL, Redis, MinIO)."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

import orjson
import typer

from backdrop.cli.console import console, print_health, show_steps, user_errors
from base.settings import Settings

infra_app = typer.Typer(
    help="Start, stop and inspect the local servers: Kafka, PostgreSQL, Redis and MinIO (S3); Jaeger "
    "(traces) with --observability.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@infra_app.command("up")
@user_errors
def infra_up(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    observability: Annotated[
        bool,
        typer.Option(
            "--observability",
            help="Also Jaeger, which receives traces (OTLP/HTTP) and shows them; built with go the first "
            "time (minutes).",
        ),
    ] = False,
) -> None:
    """Install what is missing, start every server that is not running, create the Kafka topics."""
    from infra import stack

    settings = Settings()
    started = time.monotonic()
    with show_steps():
        rows = stack.up(settings, observability)
    console.print(f"infra up in {time.monotonic() - started:.1f} s; state in {settings.state_dir.resolve()}")
    print_health(rows, as_json)
    if observability and not as_json:
        console.print(
            f"traces: export OTEL_EXPORTER_OTLP_ENDPOINT={settings.jaeger_otlp_url} in the processes' "
            f"environment; see them at {settings.jaeger_query_url}"
        )
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@infra_app.command("provision")
@user_errors
def infra_provision() -> None:
    """Create the database, topics, buckets and upload notification on servers that already run."""
    from infra import stack

    with show_steps():
        stack.provision(Settings())
    console.print("provisioned")


@infra_app.command("down")
@user_errors
def infra_down() -> None:
    """Stop the servers that `infra up` started (by pid); data stays in the state folder."""
    from infra import stack

    with show_steps():
        stack.down(Settings())
    console.print("infra down")


@infra_app.command("status")
@user_errors
def infra_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Show each server's endpoint and health; exit 1 unless all are healthy (Jaeger too when it runs)."""
    from infra import stack

    rows = stack.status(Settings())
    print_health(rows, as_json)
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@infra_app.command("smoke")
@user_errors
def infra_smoke(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the Kafka event.")] = 10.0,
) -> None:
    """Put an object into the uploads bucket and show the Kafka event its notification produces."""
    from infra.smoke import upload_and_await_event

    settings = Settings()
    key = f"smoke/{uuid.uuid4().hex}.txt"
    event, seconds = upload_and_await_event(settings, key, b"hello from backdrop\n", timeout_s=timeout)
    console.print(f"s3://{settings.uploads_bucket}/{key} -> Kafka event in {seconds * 1000:.0f} ms")
    typer.echo(orjson.dumps(event, option=orjson.OPT_INDENT_2).decode())
