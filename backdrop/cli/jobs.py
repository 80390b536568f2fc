"""Jobs: `backdrop sample`, `backdrop process` (one machine) and `backdrop submit` (the pipeline)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, cast, get_args

import orjson
import typer
from pydantic import ValidationError
from rich.progress import Progress, TaskID

from backdrop.cli.console import (
    console,
    job_bar,
    parse_rate,
    parse_size,
    peak_rss_mb,
    progress_bar,
    user_errors,
)
from base.settings import Settings
from schemas import (
    BACKGROUND_HELP,
    Background,
    ChunkDone,
    JobCompleted,
    JobFailed,
    JobOptions,
    LifecycleEvent,
    parse_background,
)
from schemas.options import Quality
from schemas.progress import JobProgress

QualityOption = Annotated[
    Quality,
    typer.Option(
        help="draft (fastest encoder settings, a coarser matte), standard, or high (slower encoder "
        "settings, larger files)."
    ),
]


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
    with progress_bar() as progress:
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


@user_errors
def process(
    source: Annotated[Path, typer.Argument(help="A video (MP4, MOV, MKV, WebM, …) or a still (PNG, JPEG).")],
    output: Annotated[
        str,
        typer.Option(
            "-o",
            "--output",
            help="Result; the extension picks the format: .mp4 (H.264), .webm (VP9, alpha), "
            ".mov (ProRes 4444, alpha), a folder (frames/) or frame_%06d.png (PNG sequence, alpha), "
            ".png/.jpg for stills.",
        ),
    ],
    background: Annotated[
        str | None,
        typer.Option(
            "--background",
            "-b",
            help=f"{BACKGROUND_HELP}. Default: transparent where the output holds alpha, else white.",
        ),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            help="Segmentation model: a built-in name (selfie, selfie-landscape) or a .json model card."
        ),
    ] = "selfie",
    quality: QualityOption = "standard",
    device: Annotated[
        str, typer.Option(help="Where the model runs and the video decodes: auto, cpu or cuda (cuda:N).")
    ] = "auto",
    backend: Annotated[str, typer.Option(help="auto, onnxruntime, torch or tensorrt.")] = "auto",
    stills: Annotated[
        Path | None,
        typer.Option(help="Write the best stills (hero frames) and a poster JPEG into this folder."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with the timings.")] = False,
) -> None:
    """Replace the background of a video or image on this machine, no servers needed."""
    from agents.extract.accel import decoder_accel
    from agents.runner import ProcessOptions, process
    from agents.segment.backends import BackendName, load_segmenter
    from agents.segment.registry import registry_for
    from base.heap import keep_freed_memory

    if backend not in get_args(BackendName):
        raise typer.BadParameter(
            f"--backend must be one of {', '.join(get_args(BackendName))}; got {backend!r}"
        )
    chosen = cast(BackendName, backend)
    settings = Settings()
    name, registry = registry_for(model)
    target = Path(output)
    if output.endswith(("/", os.sep)):
        # A folder for a PNG sequence, said with its trailing slash (which Path drops): make it one.
        target.mkdir(parents=True, exist_ok=True)
    picked = _background_option(background) if background is not None else None
    # --device picks where the video decodes too: NVDEC wherever the model may run on a GPU.
    options = ProcessOptions(
        background=picked, stills_dir=stills, quality=quality, decode_accel=decoder_accel(device)
    )
    keep_freed_memory()
    with progress_bar(disable=as_json) as progress:
        task = progress.add_task(source.name, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = process(
            source,
            target,
            # One inference thread: decode, matte, composite and encode run beside it on the other core.
            lambda: load_segmenter(
                name, chosen, device, cache_dir=settings.cache_dir, registry=registry, threads=1
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


@user_errors
def submit(
    source: Annotated[Path, typer.Argument(help="The video to process; uploaded to the uploads bucket.")],
    background: Annotated[
        str,
        typer.Option("--background", "-b", help=f"{BACKGROUND_HELP}."),
    ] = "blur",
    wait: Annotated[bool, typer.Option(help="Follow the job until it ends, with a progress bar.")] = False,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="With --wait: download the result here.")
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="A video: mp4 (H.264), webm (VP9) or mov (ProRes 4444), both keeping transparency, or png "
            "(a ZIP of PNG frames). A still: png, jpg or webp. [default: by -o's suffix (.zip: png), else "
            "mp4 for a video, png for a still]",
            show_default=False,
        ),
    ] = None,
    quality: QualityOption = "standard",
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
    settings = Settings()
    chosen = _format_option(output_format, output, source)
    try:
        options = JobOptions(background=_background_option(background), output_format=chosen, quality=quality)
    except ValidationError as exc:
        reasons = "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())
        raise typer.BadParameter(reasons, param_hint="'--background' / '--format'") from None
    request = _Submission(source, options, wait, output, timeout, as_json)
    if api:
        _submit_via_api(settings, request, key)
    else:
        _submit_via_kafka(settings, request)


@dataclass(frozen=True)
class _Submission:
    """What `backdrop submit` was asked to do, whichever way the job goes in."""

    source: Path
    options: JobOptions
    wait: bool
    output: Path | None
    timeout: float
    as_json: bool


FORMAT_BY_SUFFIX = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".webm": "webm",
    ".mov": "mov",
    ".zip": "png",
    ".png": "png",
    ".jpg": "jpg",
    ".jpeg": "jpg",
    ".webp": "webp",
}
STILL_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})


def _format_option(given: str | None, output: Path | None, source: Path) -> str:
    """``--format``, else the one ``-o``'s suffix names, else mp4; the two must agree."""
    by_suffix = FORMAT_BY_SUFFIX.get(output.suffix.lower()) if output is not None else None
    if output is not None and output.suffix.lower() in STILL_SUFFIXES and source.is_file():
        from agents.extract import probe

        if not probe(source).is_image:
            raise typer.BadParameter(
                f"{source.name} is a video, so its result is one: -o out.mp4, .webm, .mov or .zip "
                "(PNG frames)",
                param_hint="'-o'",
            )
    if given is not None and given not in FORMAT_BY_SUFFIX.values():
        raise typer.BadParameter(
            f"{given!r} is not one of mp4, webm, mov, png, jpg, webp", param_hint="'--format'"
        )
    if given is not None and by_suffix is not None and given != by_suffix:
        raise typer.BadParameter(
            f"-o {output} names {by_suffix}, not {given}: name the file for its format",
            param_hint="'--format'",
        )
    return given or by_suffix or "mp4"


def _background_option(text: str) -> Background:
    """``--background`` read once, here at the boundary; the rest of the program takes the typed value."""
    try:
        return parse_background(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--background'") from None


def _show_progress(progress: Progress, task: TaskID, job_id: str) -> Callable[[LifecycleEvent], None]:
    """A lifecycle event → the progress bar: the job's percent, frames, speed and time left where the
    event carries them (from the API's SSE stream); else the share of chunks done (straight from Kafka)."""

    def show(event: LifecycleEvent) -> None:
        stage = getattr(event, "stage", None)
        progress.update(task, description=f"{job_id} {event.event_type}{f' ({stage})' if stage else ''}")
        overall = getattr(event, "progress", None)
        if overall is not None:
            progress.update(task, completed=overall.percent, total=100, detail=_detail(overall))
        elif isinstance(event, ChunkDone):
            detail = f"{event.chunks_done}/{event.chunks_total} chunks"
            progress.update(
                task, completed=100 * event.chunks_done / event.chunks_total, total=100, detail=detail
            )
        if isinstance(event, JobCompleted):
            progress.update(task, completed=100, total=100)

    return show


def _detail(overall: JobProgress) -> str:
    frames = f"{overall.frames_done}/{overall.frames_total} frames" if overall.frames_total else ""
    fps = f"{overall.fps:.1f} fps" if overall.fps else ""
    eta = f"ETA {overall.eta_s:.0f} s" if overall.eta_s is not None else ""
    return "  ".join(part for part in (frames, fps, eta) if part)


def _ended(final: LifecycleEvent, as_json: bool) -> JobCompleted:
    """The completed event; any other end is reported and exits 1."""
    if as_json:
        typer.echo(final.model_dump_json())
    if isinstance(final, JobFailed):
        console.print(f"[bold red]failed[/] [dim]({final.code})[/] {final.message}")
        raise typer.Exit(1)
    if not isinstance(final, JobCompleted):
        console.print(f"job ended: {final.event_type}")
        raise typer.Exit(1)
    return final


def _submit_via_kafka(settings: Settings, request: _Submission) -> None:
    from backdrop.submit import follow_from_now, submit, wait_for
    from streams.s3_store import s3_store

    consumer = follow_from_now(settings) if request.wait else None
    try:
        event = submit(settings, request.source, request.options)
        if request.as_json:
            typer.echo(event.model_dump_json())
        else:
            console.print(f"submitted {event.job_id}")
        if consumer is None:
            return
        with job_bar(disable=request.as_json) as progress:
            show = _show_progress(
                progress, progress.add_task(event.job_id, total=None, detail=""), event.job_id
            )
            final = wait_for(consumer, event.job_id, timeout_s=request.timeout, on_event=show)
    finally:
        if consumer is not None:
            consumer.close()
    completed = _ended(final, request.as_json)
    if request.output is not None:
        s3_store(settings).get_file(completed.output_key, request.output)
        console.print(f"completed: wrote {request.output}")
    else:
        console.print(f"completed: s3://{settings.artifacts_bucket}/{completed.output_key}")


def _submit_via_api(settings: Settings, request: _Submission, key: str | None) -> None:
    from backdrop.api_client import api_client, download_output, follow, upload

    secret = key or (settings.api_key.get_secret_value() if settings.api_key else None)
    if not secret:
        raise typer.BadParameter(
            "--api needs a key: `backdrop keys create NAME` prints one; pass --key or set BACKDROP_API_KEY"
        )
    if not request.source.is_file():
        raise typer.BadParameter(f"{request.source} is not a file")
    base = settings.api_base_url
    with api_client(base, secret) as client:
        job = upload(client, request.source, request.options)
        job_id = job["id"]
        if request.as_json:
            typer.echo(orjson.dumps(job).decode())
        else:
            console.print(
                f"submitted {job_id}: {base}{job['links']['self']} (events: {job['links']['events']})"
            )
        if not request.wait:
            return
        with job_bar(disable=request.as_json) as progress:
            show = _show_progress(progress, progress.add_task(job_id, total=None, detail=""), job_id)
            final = follow(client, job_id, show, request.timeout)
        completed = _ended(final, request.as_json)
        if request.output is not None:
            download_output(client, job_id, request.output)
            console.print(f"completed: wrote {request.output}")
        else:
            console.print(
                f"completed: s3://{settings.artifacts_bucket}/{completed.output_key} "
                f"(download links: {base}{job['links']['self']})"
            )


@user_errors
def sign(
    submit_file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A submit event (JSON) that names an owner.")
    ],
    secret: Annotated[
        str | None,
        typer.Option(
            envvar="BACKDROP_SUBMIT_SECRET",
            help="The owner key's submit secret (whsec_…), as `backdrop keys create` printed it.",
        ),
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish", help="Publish the signed submit to backdrop.uploads as well.")
    ] = False,
) -> None:
    """Sign a submit for its owner's key: prints the Kafka headers that prove the owner, as JSON.

    A submit on backdrop.uploads that names an `owner` is refused (dead-lettered) without them. Publish
    the file's bytes unchanged with these headers, or pass --publish.
    """
    from schemas import parse_submit
    from streams.signing import sign_submit

    body = submit_file.read_bytes()
    try:
        event = parse_submit(body)
    except ValidationError as exc:
        raise typer.BadParameter(f"{submit_file} is not a submit event: {exc}") from exc
    if event.owner is None:
        raise typer.BadParameter("the submit names no owner: only a submit for a key needs a signature")
    if not secret:
        raise typer.BadParameter("give the key's submit secret: --secret or BACKDROP_SUBMIT_SECRET")
    headers = sign_submit(secret, event.job_id, body)
    if publish:
        from confluent_kafka import Producer

        from streams.consumer_loop import producer_config, wire
        from streams.topics import UPLOADS

        settings = Settings()
        producer = Producer(producer_config(settings))
        producer.produce(UPLOADS.name, value=body, key=event.job_id.encode(), headers=wire(headers))
        if producer.flush(30):
            raise typer.BadParameter(f"could not publish to {UPLOADS.name} at {settings.kafka_bootstrap}")
        console.print(f"published job {event.job_id} for {event.owner}")
    typer.echo(orjson.dumps({name: value.decode() for name, value in headers}).decode())
