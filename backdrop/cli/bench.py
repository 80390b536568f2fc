"""`backdrop bench`: `process` against its decode+encode floor, the pipeline, or the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from backdrop.cli.console import console, parse_size, user_errors
from base.errors import BackdropError
from base.settings import Settings


@user_errors
def bench(
    size: Annotated[str, typer.Option(help="Sample clip size, WIDTHxHEIGHT.")] = "1280x720",
    seconds: Annotated[float, typer.Option(min=0.5, max=3600, help="Sample clip length.")] = 10.0,
    source: Annotated[
        Path | None, typer.Option("--input", help="Benchmark this file instead of a generated sample.")
    ] = None,
    backend: Annotated[str, typer.Option(help="Segmentation backend for `process`.")] = "auto",
    pipeline: Annotated[
        bool,
        typer.Option(
            "--pipeline", help="Compare the Kafka pipeline (run `backdrop up` first) with `process` instead."
        ),
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
        from bench.process import bench, bench_pipeline
    except ImportError as exc:
        raise BackdropError(
            f"the benchmarks need their extra ({exc.name} is missing): pip install 'backdrop[bench]'"
        ) from None

    width, height = parse_size(size)
    settings = Settings()
    if api:
        result = _bench_api(settings, rate, seconds, sse_clients)
    elif pipeline:
        with console.status("benchmarking: pipeline, then process"):
            result = bench_pipeline(settings, source=source, width=width, height=height, seconds=seconds)
    else:
        with console.status("benchmarking: sample, floor, process"):
            result = bench(
                width=width,
                height=height,
                seconds=seconds,
                source=source,
                process_args=["--backend", backend],
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
