"""`backdrop bench`: `process` against its decode+encode floor, the pipeline, or the API."""

from __future__ import annotations

import ipaddress
from collections import Counter
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from backdrop.cli.console import console, parse_size, user_errors
from base.errors import BackdropError
from base.settings import Settings
from schemas.options import Quality


@user_errors
def bench(
    size: Annotated[str, typer.Option(help="Sample clip size, WIDTHxHEIGHT.")] = "1280x720",
    seconds: Annotated[float, typer.Option(min=0.5, max=3600, help="Sample clip length.")] = 10.0,
    source: Annotated[
        list[Path] | None,
        typer.Option(
            "--input",
            help="Benchmark this file instead of a generated sample (repeat it with --compare-models).",
        ),
    ] = None,
    backend: Annotated[str, typer.Option(help="Segmentation backend for `process`.")] = "auto",
    model: Annotated[str, typer.Option(help="Segmentation model for `process`.")] = "selfie",
    device: Annotated[
        str,
        typer.Option(
            help="Where `process` runs the model and where both it and the floor decode: auto, cpu or "
            "cuda (cuda:N)."
        ),
    ] = "auto",
    compare_models: Annotated[
        str | None,
        typer.Option(
            "--compare-models",
            help="Compare these models (comma-separated; the first is the reference) on the --input clips "
            "instead: foreground share, agreement, flicker and time a frame.",
        ),
    ] = None,
    pipeline: Annotated[
        bool,
        typer.Option(
            "--pipeline", help="Compare the Kafka pipeline (run `backdrop up` first) with `process` instead."
        ),
    ] = False,
    output_format: Annotated[
        str, typer.Option("--format", help="What `process` writes: mp4, webm, mov or png (a PNG sequence).")
    ] = "mp4",
    background: Annotated[
        str | None,
        typer.Option(help="Background for `process`. [default: white for mp4, else transparent]"),
    ] = None,
    quality: Annotated[Quality, typer.Option(help="Quality preset: draft, standard or high.")] = "standard",
    presets: Annotated[
        bool, typer.Option("--presets", help="Also run `process` at each quality preset and report its fps.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    api: Annotated[
        bool,
        typer.Option(
            "--api",
            help="Measure the read-model API instead (servers up): GET latency at --rate, then "
            "--sse-clients SSE streams, for --seconds each.",
        ),
    ] = False,
    rate: Annotated[int, typer.Option(min=1, help="--api: GET /v1/jobs/{id} requests per second.")] = 500,
    sse_clients: Annotated[int, typer.Option(min=1, help="--api: concurrent SSE clients.")] = 1000,
) -> None:
    """Measure `process` against the decode+encode-only floor on the same clip (fps, ratio, peak memory)."""
    try:
        from bench.process import OUTPUT_NAMES, bench, bench_pipeline
    except ImportError as exc:
        raise BackdropError(
            f"the benchmarks need their extra ({exc.name} is missing): pip install 'backdrop[bench]'"
        ) from None

    if output_format not in OUTPUT_NAMES:
        raise typer.BadParameter(f"one of {', '.join(OUTPUT_NAMES)}", param_hint="'--format'")
    width, height = parse_size(size)
    settings = Settings()
    inputs = source or []
    if len(inputs) > 1 and not compare_models:
        raise typer.BadParameter("give one --input, or several with --compare-models", param_hint="'--input'")
    if compare_models:
        from bench.models import compare_models as compare

        if not inputs:
            raise typer.BadParameter("--compare-models needs clips: --input CLIP …", param_hint="'--input'")
        names = [name.strip() for name in compare_models.split(",") if name.strip()]
        with console.status(f"segmenting {len(inputs)} clips with {', '.join(names)}"):
            result = compare(inputs, names, settings.cache_dir)
    elif api:
        result = _bench_api(settings, rate, seconds, sse_clients)
    elif pipeline:
        with console.status("benchmarking: pipeline, then process"):
            result = bench_pipeline(
                settings,
                source=inputs[0] if inputs else None,
                width=width,
                height=height,
                seconds=seconds,
                output_format=output_format,
                background=background,
            )
    else:
        with console.status("benchmarking: sample, floor, process"):
            result = bench(
                width=width,
                height=height,
                seconds=seconds,
                source=inputs[0] if inputs else None,
                process_args=["--backend", backend, "--model", model, "--device", device],
                device=device,
                output_format=output_format,
                background=background,
                quality=quality,
                presets=presets,
            )
    if as_json:
        typer.echo(orjson.dumps(result).decode())
        return
    table = Table("measure", "value")
    for key, value in result.items():
        table.add_row(key, str(value))
    Console().print(table)


def _bench_api(settings: Settings, rate: int, seconds: float, sse_clients: int) -> dict[str, object]:
    from dataclasses import asdict

    try:
        from bench.api import bench_api
        from bench.live import measure_live_transports
    except ImportError as exc:
        raise BackdropError(
            f"the benchmarks need their extra ({exc.name} is missing): pip install 'backdrop[bench]'"
        ) from None
    result = bench_api(settings, rate=rate, seconds=seconds, sse_clients=sse_clients, console=console)
    with console.status("live-update transports: PostgreSQL NOTIFY, Redis PUBLISH"):
        # Why SSE follows NOTIFY: commit → listener for each transport, on this machine.
        result["live_transport"] = [asdict(t) for t in measure_live_transports(settings, 300)]
    return result


@user_errors
def soak(
    minutes: Annotated[float, typer.Option(min=0.1, help="How long to keep submitting.")] = 30.0,
    rate: Annotated[float, typer.Option(min=0.1, help="Jobs submitted per minute (2 s clips).")] = 6.0,
    plot_file: Annotated[
        Path | None, typer.Option("--plot", help="Write memory and lag over time to this PNG.")
    ] = None,
    samples_file: Annotated[
        Path | None, typer.Option("--samples", help="Write every sample (JSON lines) to this file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
    kills: Annotated[
        int,
        typer.Option(
            min=0,
            help="SIGKILL this many workers (stages, janitor, projector, dispatcher), drawn at random, at "
            "random moments; each is started again 2 s later. Checks one webhook per job and every frame "
            "of every output.",
        ),
    ] = 0,
    crash_postgres_at: Annotated[
        float | None,
        typer.Option(help="Crash PostgreSQL (immediate stop) this many minutes in, and start it again."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random faults, to repeat a run.")] = 1,
) -> None:
    """Submit jobs through the API for MINUTES at RATE against the running stack (`backdrop up`), watching
    each process's memory, each consumer group's lag and the artifacts bucket; report memory slopes, lag,
    latency p50/p99, storage and lost jobs. The API key comes from BACKDROP_API_KEY (`make run` keeps one
    in .backdrop/demo/api-key). With --kills or --crash-postgres-at it is a chaos run: the stack must
    allow webhooks to loopback (start it with BACKDROP_URL_ALLOW_NETWORKS='["127.0.0.2/32"]')."""
    import tempfile

    from backdrop.cli.stack import consumed_topics
    from bench.soak import plot, soak
    from infra import stack
    from infra.workers import running_workers
    from streams.s3_store import s3_store

    settings = Settings()
    if settings.api_key is None:
        raise typer.BadParameter(
            "set BACKDROP_API_KEY to a key of the running stack, e.g. "
            "BACKDROP_API_KEY=$(cat .backdrop/demo/api-key) after `make run`"
        )

    def pids() -> dict[str, int]:
        servers = {row.name: row.pid for row in stack.status(settings) if row.pid}
        workers = {name.removeprefix("worker-"): pid for name, pid in running_workers(settings).items()}
        return {**servers, **workers}

    def show(sample: object, submitted: int, done: int) -> None:
        if not as_json:
            console.print(f"{getattr(sample, 'at_s', 0) / 60:5.1f} min: {submitted} submitted, {done} ended")

    chaotic = kills > 0 or crash_postgres_at is not None
    chaos, receiver = None, None
    if chaotic:
        from bench.chaos import RECEIVER_HOST, Chaos, WebhookReceiver, plan
        from infra.postgres_server import PostgresServer
        from infra.workers import SERVICES, start_workers

        if not any(ipaddress.ip_address(RECEIVER_HOST) in net for net in settings.url_allow_networks):
            raise typer.BadParameter(
                f"a chaos run counts webhooks on {RECEIVER_HOST}: start the stack with "
                f"BACKDROP_URL_ALLOW_NETWORKS='[\"{RECEIVER_HOST}/32\"]' (`backdrop down`, then "
                "`backdrop up`)"
            )
        workers = [name for name in running_workers(settings) if not name.startswith("worker-api")]
        replicas = Counter(name.removeprefix("worker-").rsplit("-", 1)[0] for name in workers)
        targets = [name.removeprefix("worker-") for name in workers]
        postgres_s = crash_postgres_at * 60 if crash_postgres_at is not None else None

        def restart() -> None:
            stack.up(settings)  # a crashed server, if any
            start_workers(settings, dict(replicas), SERVICES)

        chaos = Chaos(
            plan(kills, minutes * 60, targets, seed, postgres_s),
            pids,
            restart,
            crashes={"postgres": PostgresServer(settings).crash},
        )
        receiver = WebhookReceiver()
    with tempfile.TemporaryDirectory(prefix="backdrop-soak-") as work:
        try:
            report = soak(
                settings,
                settings.api_key.get_secret_value(),
                minutes=minutes,
                rate_per_minute=rate,
                work_dir=Path(work),
                pids=pids,
                groups=consumed_topics(),
                on_sample=show,
                store=s3_store(settings),
                chaos=chaos,
                webhooks=receiver,
                check_frames=chaotic,
            )
        finally:
            if receiver is not None:
                receiver.close()
    if samples_file is not None:
        samples_file.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in report.samples))
    if plot_file is not None:
        plot(report, plot_file)
    if as_json:
        typer.echo(orjson.dumps(report.as_json()).decode())
        return
    table = Table("measure", "value")
    for key, value in report.as_json().items():
        table.add_row(key, str(value))
    Console().print(table)
