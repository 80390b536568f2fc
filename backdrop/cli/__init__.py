"""The `backdrop` command line: one module per command group; this one puts them together."""

from __future__ import annotations

import typer

from backdrop.cli import bench, jobs, readmodel, stack
from backdrop.cli.dlq import dlq_app
from backdrop.cli.infra import infra_app
from backdrop.cli.models import models_app

app = typer.Typer(
    help="Backdrop replaces the background of videos and images, as a Kafka pipeline or on one machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("sample")(jobs.sample)
app.command("process")(jobs.process)
app.command("submit")(jobs.submit)
app.command("sign")(jobs.sign)
app.command("bench")(bench.bench)
app.command("soak")(bench.soak)
app.command("up")(stack.up)
app.command("status")(stack.status)
app.command("down")(stack.down)
app.command("worker")(stack.worker)
app.command("probe")(stack.probe)
app.command("api")(readmodel.api)
app.command("web")(readmodel.web)
app.add_typer(infra_app, name="infra")
app.add_typer(dlq_app, name="dlq")
app.add_typer(models_app, name="models")
app.add_typer(readmodel.db_app, name="db")
app.add_typer(readmodel.keys_app, name="keys")
