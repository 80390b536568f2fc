"""The `backdrop` command line."""

from __future__ import annotations

import contextlib
import functools
import gc
import resource
import time
import uuid
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar, cast, get_args

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from api.commands import api_command, db_app, keys_app
from backdrop.errors import BackdropError
from backdrop.settings import Settings
from infra.service import Health

if TYPE_CHECKING:
    from agents.segment.backends import BackendName
    from agents.segment.registry import ModelRegistry

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
models_app = typer.Typer(
    help="The segmentation models: fetch the default one, list what is available.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(models_app, name="models")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.command("api")(api_command)

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


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' → (1280, 720)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"expected WIDTHxHEIGHT such as 1280x720, got {text!r}") from None
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise typer.BadParameter("width and height must be even and at least 16")
    return width, height


def parse_rate(text: str) -> Fraction:
    """'30', '29.97' or '24000/1001' → an exact Fraction."""
    try:
        rate = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise typer.BadParameter(f"expected a frame rate such as 30 or 24000/1001, got {text!r}") from None
    if not 1 <= rate <= 240:
        raise typer.BadParameter("the frame rate must be between 1 and 240")
    return rate


@app.command("sample")
@user_errors
def sample(
    output: Annotated[
        Path, typer.Argument(help="Where to write the clip (.mp4, .mov, .mkv) or a still (.png, .jpg).")
    ],
    seconds: Annotated[float, typer.Option(min=0.1, max=3600, help="Length of the clip.")] = 10.0,
    size: Annotated[str, typer.Option(help="Frame size, WIDTHxHEIGHT.")] = "1280x720",
    fps: Annotated[str, typer.Option(help="Frame rate, e.g. 30 or 24000/1001.")] = "30",
) -> None:
    """Write a realistic test clip offline: a photographed person moving over a moving photo, with sound."""
    from backdrop.sample import write_sample

    width, height = parse_size(size)
    rate = parse_rate(fps)
    total = max(1, round(seconds * rate))
    with _progress() as progress:
        task = progress.add_task("sample", total=total)
        frames = write_sample(
            output,
            seconds=seconds,
            width=width,
            height=height,
            fps=rate,
            on_frame=lambda: progress.advance(task),
        )
    console.print(f"wrote {output} ({frames} frames, {width}x{height}, {rate} fps)")


class FpsColumn(ProgressColumn):
    """Items per second over rich's recent-speed window."""

    def __init__(self, unit: str = "fps") -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:5.1f} {self.unit}" if task.speed else "", style="cyan")


@app.command("process")
@user_errors
def process_command(
    source: Annotated[Path, typer.Argument(help="A video (MP4, MOV, MKV, WebM, …) or a still (PNG, JPEG).")],
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="Result; the extension picks the format: .mp4 (H.264), .webm (VP9, alpha), "
            ".mov (ProRes 4444, alpha), a folder or frame_%06d.png (PNG sequence, alpha), "
            ".png/.jpg for stills.",
        ),
    ],
    background: Annotated[
        str | None,
        typer.Option(
            "--background",
            "-b",
            help="#RRGGBB, a colour name, an image or video path ('contain:PATH' letterboxes an image), "
            "'blur' or 'blur:SIGMA', or 'transparent'. Default: transparent where the output holds alpha, "
            "else white.",
        ),
    ] = None,
    model: Annotated[
        str, typer.Option(help="Segmentation model: a built-in name (selfie, selfie-landscape).")
    ] = ("selfie"),
    device: Annotated[str, typer.Option(help="auto, cpu or cuda (cuda:N).")] = "auto",
    backend: Annotated[str, typer.Option(help="auto, onnxruntime, torch or tensorrt.")] = "auto",
    stills: Annotated[
        Path | None,
        typer.Option(help="Write the best stills (hero frames) and a poster JPEG into this folder."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with the timings.")] = False,
) -> None:
    """Replace the background of a video or image on this machine, no servers needed."""
    from agents.segment.backends import load_segmenter
    from backdrop.runner import ProcessOptions, process

    settings = Settings()
    name, registry = _model_registry(model)
    options = ProcessOptions(background=background, stills_dir=stills)
    with _progress(disable=as_json) as progress:
        task = progress.add_task(source.name, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = process(
            source,
            output,
            # One inference thread: decode, matte, composite and encode run beside it on the other core.
            lambda: load_segmenter(
                name, _backend(backend), device, cache_dir=settings.cache_dir, registry=registry, threads=1
            ),
            options,
            on_progress=advance,
        )
    result = {**report.as_dict(), "model": model, "peak_rss_mb": peak_rss_mb()}
    if as_json:
        typer.echo(orjson.dumps(result).decode())
    else:
        console.print(
            f"wrote {output}: {report.frames} frames in {report.seconds:.1f} s ({report.output_fps:.1f} fps, "
            f"{report.backend})"
        )


def _model_registry(model: str) -> tuple[str, ModelRegistry]:
    """A built-in name as is; a .json model card registered beside the built-ins."""
    from agents.segment.registry import builtin_registry, user_model_spec

    registry = builtin_registry()
    if not model.lower().endswith(".json"):
        return model, registry
    card_path = Path(model)
    try:
        card = orjson.loads(card_path.read_bytes())
        path = Path(card.pop("path"))
        if not path.is_absolute():
            path = card_path.parent / path
        name = card.pop("name", path.stem)
        size = tuple(card.pop("input_size"))
        for key in ("mean", "std"):
            if key in card:
                card[key] = tuple(card[key])
        spec = user_model_spec(name, path, (int(size[0]), int(size[1])), **card)
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise typer.BadParameter(
            f"cannot use model card {model}: {exc}. A card is JSON with at least "
            '"path" and "input_size" [height, width].'
        ) from None
    registry.register_model(spec, replace=True)
    return name, registry


def _backend(name: str) -> BackendName:
    from agents.segment.backends import BackendName

    if name not in get_args(BackendName):
        raise typer.BadParameter(f"--backend must be one of {', '.join(get_args(BackendName))}; got {name!r}")
    return cast(BackendName, name)


@app.command("bench")
@user_errors
def bench_command(
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
    from backdrop.bench import bench, bench_pipeline
    from backdrop.sample import write_sample

    width, height = parse_size(size)
    if api:
        from dataclasses import asdict

        from backdrop.bench_api import bench_api
        from backdrop.bench_live import measure_live_transports

        result = bench_api(Settings(), rate=rate, seconds=seconds, sse_clients=sse_clients, console=console)
        with console.status("live-update transports: PostgreSQL NOTIFY, Redis PUBLISH"):
            # Why SSE follows NOTIFY: commit → listener for each transport, on this machine.
            result["live_transport"] = [asdict(t) for t in measure_live_transports(Settings(), 300)]
    elif pipeline:
        settings = Settings()
        clip = source
        if clip is None:
            clip = settings.state_dir / "bench" / f"sample-{width}x{height}-{seconds:g}s.mp4"
            if not clip.exists():
                with console.status("writing the sample clip"):
                    write_sample(clip, seconds=seconds, width=width, height=height)
        with console.status("benchmarking: pipeline, then process"):
            result = bench_pipeline(settings, source=clip)
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


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _progress(disable: bool = False, unit: str = "frames") -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        FpsColumn("fps" if unit == "frames" else f"{unit}/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=disable,
    )


@models_app.command("fetch")
@user_errors
def models_fetch() -> None:
    """Fetch the default models once (from the mediapipe wheel on PyPI) and build their ONNX files."""
    from agents.segment.assets import ensure_selfie_tflites
    from agents.segment.onnx_cache import onnx_file
    from agents.segment.registry import builtin_registry

    settings = Settings()
    with console.status("fetching the selfie segmentation models"):
        ensure_selfie_tflites(settings.cache_dir, ("general", "landscape"))
        registry = builtin_registry()
        for name in registry.names():
            console.print(f"{name}: {onnx_file(registry.get(name), settings.cache_dir)}")


@models_app.command("list")
def models_list() -> None:
    """The built-in models, their input size and source."""
    from agents.segment.registry import builtin_registry

    table = Table("name", "input (h×w)", "source")
    registry = builtin_registry()
    for name in registry.names():
        spec = registry.get(name)
        table.add_row(name, f"{spec.input_size[0]}×{spec.input_size[1]}", spec.source)
    Console().print(table)


@app.command("worker")
@user_errors
def worker_command(
    stage: Annotated[
        str,
        typer.Argument(
            help="A stage (extract, score, segment, matte, composite, encode, assemble), or projector "
            "(lifecycle events → PostgreSQL) or webhooks (delivers job-end webhooks)."
        ),
    ],
    max_messages: Annotated[int | None, typer.Option(help="Stop after this many messages (tests).")] = None,
) -> None:
    """Run one worker: its own consumer group (backdrop-STAGE); scale by starting more."""
    import logging

    from agents.workers import STAGES

    if stage not in (*STAGES, "projector", "webhooks"):
        raise typer.BadParameter(
            f"STAGE must be one of {', '.join(STAGES)}, projector or webhooks; got {stage!r}"
        )
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {stage} %(levelname)s %(message)s")
    settings = Settings()
    if stage == "projector":
        _run_projector(settings)
    elif stage == "webhooks":
        from api.dispatch import run_dispatcher

        run_dispatcher(settings)
    else:
        _run_stage(stage, settings, max_messages)


def _run_stage(stage: str, settings: Settings, max_messages: int | None) -> None:
    import cv2

    from agents.pipeline import StageContext
    from agents.workers import build_handler
    from backdrop.heap import keep_freed_memory
    from streams.cancel import CancelList
    from streams.worker import Worker

    keep_freed_memory()
    # Stages run side by side as processes (one per stage or more): OpenCV's own thread pool on top of
    # that only oversubscribes the cores and adds hand-offs.
    cv2.setNumThreads(1)

    context = StageContext.open(settings)
    try:
        worker = Worker(
            build_handler(stage, settings, context), settings, cancelled=CancelList.open(settings)
        )
        worker.install_signal_handlers()
        worker.run(max_messages=max_messages)
    finally:
        context.close()


def _run_projector(settings: Settings) -> None:
    from api.migrate import upgrade
    from api.projector import BatchProjector, ProjectorHandler, projection_engine

    upgrade(settings)
    engine = projection_engine(settings)
    try:
        projector = BatchProjector(ProjectorHandler(engine), settings)
        projector.install_signal_handlers()
        gc.freeze()  # what is loaded now lives as long as the process: no need to rescan it
        projector.run()
    finally:
        engine.dispose()


@app.command("submit")
@user_errors
def submit_command(
    source: Annotated[Path, typer.Argument(help="The video to process; uploaded to the uploads bucket.")],
    background: Annotated[
        str,
        typer.Option("--background", "-b", help="#RRGGBB, a colour name, blur[:SIGMA] or s3://bucket/key."),
    ] = "blur",
    wait: Annotated[bool, typer.Option(help="Follow the job until it ends, with a progress bar.")] = False,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="With --wait: download the result here.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="With --wait: give up after this many seconds.")] = 1800,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the submit (and final) event as JSON.")
    ] = False,
    api: Annotated[
        bool,
        typer.Option(
            "--api",
            help="Go through the HTTP API (BACKDROP_API_URL) instead of S3 + Kafka: upload with "
            "POST /v1/uploads, follow the job's Server-Sent Events.",
        ),
    ] = False,
    key: Annotated[
        str | None,
        typer.Option(help="With --api: the API key [default: BACKDROP_API_KEY].", show_default=False),
    ] = None,
) -> None:
    """Submit a job to the Kafka pipeline (the servers and workers must run: `backdrop up`)."""
    if api:
        _submit_via_api(source, background, wait, output, timeout, as_json, key)
        return
    from backdrop.submit import follow_from_now, submit, wait_for
    from schemas import JobCompleted, JobFailed, JobOptions
    from streams.s3_store import s3_store

    settings = Settings()
    try:
        options = JobOptions(background=background)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    consumer = follow_from_now(settings) if wait else None
    try:
        event = submit(settings, source, options)
        if as_json:
            typer.echo(event.model_dump_json())
        else:
            console.print(f"submitted {event.job_id}")
        if consumer is None:
            return
        with _progress(disable=as_json, unit="chunks") as progress:
            task = progress.add_task(event.job_id, total=None)

            def show(update: object) -> None:
                done, total = getattr(update, "chunks_done", None), getattr(update, "chunks_total", None)
                if getattr(update, "event_type", "") == "chunk_done" and total:
                    progress.update(task, completed=done, total=total)

            final = wait_for(consumer, event.job_id, timeout_s=timeout, on_event=show)
    finally:
        if consumer is not None:
            consumer.close()
    if as_json:
        typer.echo(final.model_dump_json())
    if isinstance(final, JobFailed):
        console.print(f"[bold red]failed[/] [dim]({final.code})[/] {final.message}")
        raise typer.Exit(1)
    if isinstance(final, JobCompleted):
        if output is not None:
            s3_store(settings).get_file(final.output_key, output)
            console.print(f"completed: wrote {output}")
        else:
            console.print(f"completed: s3://{settings.artifacts_bucket}/{final.output_key}")
        return
    console.print(f"job ended: {final.event_type}")
    raise typer.Exit(1)


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


def _submit_via_api(
    source: Path,
    background: str,
    wait: bool,
    output: Path | None,
    timeout: float,
    as_json: bool,
    key: str | None,
) -> None:
    from backdrop.api_client import api_client, download_output, follow, upload

    settings = Settings()
    secret = key or (settings.api_key.get_secret_value() if settings.api_key else None)
    if not secret:
        raise typer.BadParameter(
            "--api needs a key: `backdrop keys create NAME` prints one; pass --key or set BACKDROP_API_KEY"
        )
    if not source.is_file():
        raise typer.BadParameter(f"{source} is not a file")
    with api_client(settings.api_base_url, secret) as client:
        job = upload(client, source, background)
        base = settings.api_base_url
        if as_json:
            typer.echo(orjson.dumps(job).decode())
        else:
            console.print(
                f"submitted {job['id']}: {base}{job['links']['self']} (events: {job['links']['events']})"
            )
        if not wait:
            return
        with _progress(disable=as_json, unit="chunks") as progress:
            task = progress.add_task(job["id"], total=None)

            def show(kind: str, data: dict[str, Any]) -> None:
                stage = data.get("stage")
                progress.update(task, description=f"{job['id']} {kind}{f' ({stage})' if stage else ''}")
                if kind == "chunk_done":
                    progress.update(task, completed=data["chunks_done"], total=data["chunks_total"])

            kind, final = follow(client, job["id"], show, timeout)
        if as_json:
            typer.echo(orjson.dumps(final).decode())
        if kind == "failed":
            console.print(f"[bold red]failed[/] [dim]({final['code']})[/] {final['message']}")
            raise typer.Exit(1)
        if kind != "completed":
            console.print(f"job ended: {kind}")
            raise typer.Exit(1)
        if output is not None:
            download_output(client, job["id"], output)
            console.print(f"completed: wrote {output}")
        else:
            console.print(
                f"completed: s3://{settings.artifacts_bucket}/{final['output_key']} "
                f"(download links: {base}{job['links']['self']})"
            )


@app.command("up")
@user_errors
def up_command(
    segment_workers: Annotated[int, typer.Option(min=1, max=16, help="Segment workers to start.")] = 1,
) -> None:
    """Start the servers, a worker per stage, the projector, the webhook dispatcher and the API."""
    from agents.workers import STAGES
    from api.migrate import upgrade
    from infra import stack
    from infra.workers import SERVICES, start_workers

    settings = Settings()
    with console.status("starting the servers"):
        rows = stack.up(settings)
    if not all(row.healthy for row in rows):
        _print_health(rows, False)
        raise typer.Exit(1)
    upgrade(settings)
    pids = start_workers(settings, {"segment": segment_workers}, SERVICES)
    with console.status("waiting for the API"):
        _wait_for_api(settings)
    console.print(
        f"workers: {', '.join(f'{s}×{len(pids[s])}' for s in STAGES)}; "
        f"{', '.join(SERVICES)}; API at {settings.api_base_url}/docs; logs in {settings.state_dir}/logs"
    )


@app.command("status")
@user_errors
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Servers, workers and services with their consumer lag; exit 1 unless the servers are healthy."""
    from confluent_kafka import Consumer

    from agents.workers import STAGES
    from infra import stack
    from infra.workers import SERVICES, running_workers
    from streams.admin import admin_client
    from streams.lag import group_lag
    from streams.topics import JOBS, STORAGE_EVENTS, UPLOADS, stage_topic

    settings = Settings()
    rows = stack.status(settings)
    workers = running_workers(settings)
    names = (*STAGES, *SERVICES)
    consumed = {
        "extract": [UPLOADS.name, STORAGE_EVENTS.name],
        "projector": [JOBS.name, UPLOADS.name],
        **{stage: [stage_topic(stage).name] for stage in STAGES if stage != "extract"},
    }
    lag: dict[str, int | None] = {name: None for name in names}
    if all(row.healthy for row in rows):
        admin = admin_client(settings.kafka_bootstrap)
        consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "backdrop-status"})
        try:
            for name, topics in consumed.items():
                lag[name] = group_lag(admin, consumer, f"backdrop-{name}", topics)
        finally:
            consumer.close()
    if as_json:
        counts = {
            name: sum(1 for worker in workers if worker.startswith(f"worker-{name}-")) for name in names
        }
        typer.echo(
            orjson.dumps({"servers": [row.__dict__ for row in rows], "workers": counts, "lag": lag}).decode()
        )
    else:
        _print_health(rows, False)
        table = Table("stage", "workers", "lag")
        for name in names:
            pids = [str(pid) for worker, pid in workers.items() if worker.startswith(f"worker-{name}-")]
            table.add_row(name, ", ".join(pids) or "-", "-" if lag[name] is None else str(lag[name]))
        Console().print(table)
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@app.command("down")
@user_errors
def down_command() -> None:
    """Stop the workers (each finishes its current message), then the servers."""
    from infra import stack
    from infra.workers import stop_workers

    settings = Settings()
    with console.status("stopping"):
        stop_workers(settings)
        stack.down(settings)
    console.print("down")


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
