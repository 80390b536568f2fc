"""The `backdrop` command line."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

import orjson
import typer
from rich.console import Console
from rich.table import Table

from backdrop.errors import BackdropError
from backdrop.settings import Settings
from infra.service import Health

app = typer.Typer(
    help="Backdrop replaces the background of videos and images, as a Kafka pipeline or on one machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
infra_app = typer.Typer(
    help="Start, stop and inspect the local servers: Kafka, PostgreSQL, Redis and MinIO (S3).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(infra_app, name="infra")

console = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """A BackdropError is the user's to act on: print its message, exit 1, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except BackdropError as exc:
            console.print(f"[bold red]error[/] [dim]({exc.code})[/] {exc.message}")
            raise typer.Exit(1) from None

    return wrapper


def _print_health(rows: list[Health], as_json: bool) -> None:
    if as_json:
        typer.echo(orjson.dumps([row.__dict__ for row in rows]).decode())
        return
    table = Table("service", "endpoint", "health", "pid", "detail")
    for row in rows:
        health = "[green]healthy[/]" if row.healthy else "[red]down[/]"
        table.add_row(row.name, row.endpoint, health, str(row.pid or "-"), row.detail)
    Console().print(table)


@infra_app.command("up")
@user_errors
def infra_up(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Install what is missing, start every server that is not running, create the Kafka topics."""
    from infra import stack

    settings = Settings()
    started = time.monotonic()
    with console.status("starting") as spinner:
        rows = stack.up(settings, on_step=lambda step: spinner.update(f"starting {step}"))
    console.print(f"infra up in {time.monotonic() - started:.1f} s; state in {settings.state_dir.resolve()}")
    _print_health(rows, as_json)
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@infra_app.command("provision")
@user_errors
def infra_provision() -> None:
    """Create the database, topics, buckets and upload notification on servers that already run."""
    from infra import stack

    with console.status("provisioning") as spinner:
        stack.provision(Settings(), on_step=lambda step: spinner.update(f"provisioning {step}"))
    console.print("provisioned")


@infra_app.command("down")
@user_errors
def infra_down() -> None:
    """Stop the servers that `infra up` started (by pid); data stays in the state folder."""
    from infra import stack

    with console.status("stopping") as spinner:
        stack.down(Settings(), on_step=lambda step: spinner.update(f"stopping {step}"))
    console.print("infra down")


@infra_app.command("status")
@user_errors
def infra_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Show each server's endpoint and health; exit 1 unless all four are healthy."""
    from infra import stack

    rows = stack.status(Settings())
    _print_health(rows, as_json)
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
