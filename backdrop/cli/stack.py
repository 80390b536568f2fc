"""The running stack: `backdrop up`, `status`, `down` and `worker STAGE`."""

from __future__ import annotations

import contextlib
import shutil
import time
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from backdrop.cli.console import console, print_health, show_steps, user_errors
from base.errors import BackdropError
from base.settings import Settings
from infra.steps import step
from schemas import PIPELINE
from streams.liveness import MAX_BUSY_S, MAX_QUIET_S, Pulse, read_pulses, stale_reason
from streams.topics import JOBS

# Workers beside the stages; the API is started by `backdrop api`.
WORKER_SERVICES = ("janitor", "projector", "webhooks")


@user_errors
def worker(
    stage: Annotated[
        str,
        typer.Argument(
            help=f"A stage ({', '.join(PIPELINE)}), or janitor (deletes what a job leaves behind), "
            "projector (lifecycle events → PostgreSQL) or webhooks (delivers job-end webhooks)."
        ),
    ],
    max_messages: Annotated[int | None, typer.Option(help="Stop after this many messages (tests).")] = None,
) -> None:
    """Run one worker: its own consumer group (backdrop-STAGE); scale by starting more."""
    from streams.logs import configure_logging

    if stage not in (*PIPELINE, *WORKER_SERVICES):
        raise typer.BadParameter(
            f"STAGE must be one of {', '.join(PIPELINE)}, {', '.join(WORKER_SERVICES)}; got {stage!r}"
        )
    settings = Settings()
    configure_logging(stage, settings.log_format)
    if stage == "projector":
        from api.projector import run_projector

        run_projector(settings)
    elif stage == "janitor":
        from agents.workers.janitor import run_janitor

        run_janitor(settings)
    elif stage == "webhooks":
        from api.dispatch import run_dispatcher

        run_dispatcher(settings)
    else:
        from agents.workers import run_stage_worker

        run_stage_worker(stage, settings, max_messages)


def _wait_for_api(settings: Settings, timeout_s: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{settings.api_base_url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    log = settings.state_dir / "logs" / "worker-api-0.log"
    raise BackdropError(
        f"the API at {settings.api_base_url} was not ready within {timeout_s:.0f} s; see {log}"
    )


@user_errors
def up(
    segment_workers: Annotated[int, typer.Option(min=1, max=16, help="Segment workers to start.")] = 1,
    observability: Annotated[
        bool,
        typer.Option(
            "--observability",
            help="Also Jaeger, with every process sending it traces (unless OTEL_* name another exporter).",
        ),
    ] = False,
) -> None:
    """Start the servers, a worker per stage, the janitor, the projector, the webhook dispatcher and the
    API."""
    import os

    from api.migrate import upgrade
    from infra import stack
    from infra.jaeger_server import traced_env
    from infra.workers import SERVICES, start_workers

    settings = Settings()
    env = traced_env(settings, os.environ) if observability else None
    with show_steps():
        rows = stack.up(settings, observability)
        if not all(row.healthy for row in rows):
            print_health(rows, False)
            raise typer.Exit(1)
        with step("migrating the read model's database"):
            upgrade(settings)
        with step("starting the workers, the janitor, the projector, the webhook dispatcher and the API"):
            pids = start_workers(settings, {"segment": segment_workers}, SERVICES, env=env)
            _wait_for_api(settings)
    console.print(
        f"workers: {', '.join(f'{s}×{len(pids[s])}' for s in PIPELINE)}; "
        f"{', '.join(SERVICES)}; web app at {settings.api_base_url}/, API at {settings.api_base_url}/docs; "
        f"logs in {settings.state_dir}/logs",
        soft_wrap=True,  # one line, however narrow the terminal: scripts and logs read it whole
    )
    if observability:
        console.print(f"traces at {settings.jaeger_query_url}")


def consumed_topics() -> dict[str, tuple[str, ...]]:
    """Each consumer group's name (without the ``backdrop-`` prefix) → the topics it reads."""
    from agents.workers import stage_topics
    from api.projector import ProjectorHandler

    return {**stage_topics(), "janitor": (JOBS.name,), "projector": ProjectorHandler.topics}


@user_errors
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Servers, workers and services with their consumer lag; exit 1 unless the servers are healthy."""

    from infra import stack
    from infra.workers import SERVICES, running_workers
    from streams.admin import admin_client
    from streams.lag import group_lag

    settings = Settings()
    rows = stack.status(settings)
    workers = running_workers(settings)
    names = (*PIPELINE, *SERVICES)
    lag: dict[str, int | None] = {name: None for name in names}
    if all(row.healthy for row in rows):
        admin = admin_client(settings)
        for name, topics in consumed_topics().items():
            lag[name] = group_lag(admin, settings.consumer_group(name), list(topics))
    pulses = {pulse.pid: pulse for pulse in read_pulses(settings.pulse_dir)}
    now = time.time()
    if as_json:
        counts = {
            name: sum(1 for worker in workers if worker.startswith(f"worker-{name}-")) for name in names
        }
        alive = {
            worker: _pulse_json(pulses.get(pid), now) for worker, pid in workers.items() if pid in pulses
        }
        report = {"servers": [row.__dict__ for row in rows], "workers": counts, "lag": lag, "pulse": alive}
        typer.echo(orjson.dumps(report).decode())
    else:
        print_health(rows, False)
        table = Table("stage", "workers", "lag", "pulse")
        for name in names:
            mine = [pid for worker, pid in workers.items() if worker.startswith(f"worker-{name}-")]
            beats = "; ".join(_pulse_text(pulses.get(pid), now) for pid in mine)
            lags = "-" if lag[name] is None else str(lag[name])
            table.add_row(name, ", ".join(map(str, mine)) or "-", lags, beats or "-")
        Console().print(table)
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


def _pulse_json(pulse: Pulse | None, now: float) -> dict[str, object] | None:
    if pulse is None:
        return None
    return {
        "polled_s_ago": round(now - pulse.polled_at, 1),
        "busy_s": None if pulse.busy_since is None else round(now - pulse.busy_since, 1),
        "assigned": pulse.assigned,
        "handled": pulse.handled,
        "stale": stale_reason(pulse, now),
    }


def _pulse_text(pulse: Pulse | None, now: float) -> str:
    if pulse is None:
        return "[dim]no pulse[/]"  # not polling yet (loading a model), or the API / the dispatcher
    if reason := stale_reason(pulse, now):
        return f"[red]stuck[/]: {reason}"
    if pulse.busy_since is not None:
        return f"busy {now - pulse.busy_since:.0f} s, {pulse.assigned} partitions"
    return f"polled {now - pulse.polled_at:.0f} s ago, {pulse.assigned} partitions"


@user_errors
def probe(
    name: Annotated[str, typer.Argument(help="The consumer: a stage, janitor or projector.")],
    max_quiet: Annotated[float, typer.Option(help="Seconds without a poll that mean stuck.")] = MAX_QUIET_S,
    max_busy: Annotated[
        float, typer.Option(help="Seconds on one batch that mean stuck (max.poll.interval).")
    ] = MAX_BUSY_S,
) -> None:
    """Liveness: exit 0 while every NAME consumer on this machine polls, 1 (saying why) when one is stuck."""
    from infra.processes import pid_alive

    settings = Settings()
    now = time.time()
    pulses = [pulse for pulse in read_pulses(settings.pulse_dir, name) if pid_alive(pulse.pid)]
    if not pulses:
        console.print(f"no {name} consumer has polled yet (no pulse in {settings.pulse_dir})")
        raise typer.Exit(1)
    reasons = [reason for pulse in pulses if (reason := stale_reason(pulse, now, max_quiet, max_busy))]
    for reason in reasons:
        console.print(f"[bold red]stuck[/] {reason}")
    if reasons:
        raise typer.Exit(1)
    console.print(f"{len(pulses)} {name} consumer(s) polling")


@user_errors
def down() -> None:
    """Stop the workers (each finishes its current message), then the servers; drop the frame cache."""
    from infra import stack
    from infra.processes import pid_alive
    from infra.workers import stop_workers

    settings = Settings()
    with show_steps():
        with step("stopping the workers (each finishes its message)"):
            stop_workers(settings)
        stack.down(settings)
        if settings.frame_cache_dir is None:  # the default RAM-disk cache is this stack's alone
            shutil.rmtree(settings.frame_cache_folder, ignore_errors=True)
        for entry in settings.metrics_dir.glob("*-*.json"):  # a killed worker leaves its <name>-<pid>
            pid = entry.stem.rpartition("-")[2]
            if pid.isdigit() and not pid_alive(int(pid)):
                entry.unlink(missing_ok=True)
    console.print("down")
