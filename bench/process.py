"""`backdrop bench`: `process` against the decode+encode floor on the same clip, in one run."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any, get_args

import numpy as np
import orjson

from agents.encode import VideoWriter
from agents.extract import iter_frames, probe
from agents.extract.accel import decoder_accel
from agents.runner.threads import Stage
from backdrop.sample import write_sample
from base.errors import BackdropError
from base.heap import keep_freed_memory
from base.settings import Settings
from schemas.options import Quality


def decode_encode_floor(
    source: Path,
    output: Path,
    batch_frames: int = 8,
    alpha: bool = False,
    quality: Quality = "standard",
    device: str = "auto",
) -> tuple[int, float, float]:
    """Decode (on ``device``, as `process --device` does) and re-encode with the same writer and settings
    as `process`, nothing in between; with ``alpha`` the frames get an opaque alpha plane: the encoder's
    work for a transparent output.

    Returns the frames, the wall seconds and the CPU seconds (every thread of this process meanwhile)."""
    info = probe(source)
    started, started_cpu = time.perf_counter(), time.process_time()
    frames = 0
    # decoded where `process` decodes (under auto: NVDEC where a GPU answers), so both pay the same for it
    decoded = iter_frames(source, batch_frames, decoder_accel(device))
    decode = Stage("decode", decoded, lambda b: [b], source_is_work=True)
    audio = source if info.audio is not None else None
    size = info.width, info.height
    try:
        with VideoWriter(
            output, *size, time_base=info.time_base, fps=info.fps, audio=audio, quality=quality
        ) as w:
            for batch in decode:
                pixels = batch.frames
                if alpha:
                    opaque = np.full((*pixels.shape[:3], 1), 255, np.uint8)
                    pixels = np.concatenate([pixels, opaque], axis=-1)
                w.write(pixels, batch.pts)
                frames += len(batch.pts)
    finally:
        decode.stop()
    return frames, time.perf_counter() - started, time.process_time() - started_cpu


def run_process(source: Path, output: Path, extra: list[str]) -> dict[str, Any]:
    """`backdrop process --json` in a child process, so its peak memory is its own."""
    result = subprocess.run(
        [sys.executable, "-m", "backdrop", "process", str(source), "-o", str(output), "--json", *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackdropError(f"`backdrop process` failed during the benchmark:\n{result.stderr[-2000:]}")
    report: dict[str, Any] = orjson.loads(result.stdout.strip().splitlines()[-1])
    return report


# What `--format` writes: the output's name (a folder for a PNG sequence).
OUTPUT_NAMES = {"mp4": "out.mp4", "webm": "out.webm", "mov": "out.mov", "png": "frames/frame_%06d.png"}


def bench(
    *,
    width: int,
    height: int,
    seconds: float,
    fps: Fraction = Fraction(30),
    source: Path | None = None,
    process_args: list[str] | None = None,
    output_format: str = "mp4",
    background: str | None = None,
    quality: Quality = "standard",
    presets: bool = False,
    device: str = "auto",
) -> dict[str, Any]:
    """`process` against its format's own floor (decode, then encode to that format, with an alpha plane
    when the background is transparent); with ``presets`` also `process` at each quality preset."""
    # The floor's big arrays reuse their pages as `process`'s do (it sets this in its own process).
    keep_freed_memory()
    label = str(source) if source is not None else "sample"
    background = background or ("white" if output_format == "mp4" else "transparent")
    name = OUTPUT_NAMES[output_format]
    with tempfile.TemporaryDirectory(prefix="backdrop-bench-") as tmp:
        work = Path(tmp)
        if source is None:
            source = work / "sample.mp4"
            write_sample(source, seconds=seconds, width=width, height=height, fps=fps)
        info = probe(source)
        floor_out = work / "floor" / name
        floor_out.parent.mkdir(parents=True)
        alpha = background == "transparent"
        floor_frames, floor_s, floor_cpu_s = decode_encode_floor(
            source, floor_out, alpha=alpha, quality=quality, device=device
        )

        def process_at(preset: Quality) -> dict[str, Any]:
            folder = work / preset
            folder.mkdir(exist_ok=True)
            args = [*(process_args or []), "--background", background, "--quality", preset]
            return run_process(source, folder / name, args)

        report = process_at(quality)
        by_preset = {preset: process_at(preset)["fps"] for preset in get_args(Quality)} if presets else None
    floor_fps = floor_frames / floor_s
    frames = report["frames"]
    result = {
        "input": label,
        "size": f"{info.width}x{info.height}",
        "format": output_format,
        "background": background,
        "quality": quality,
        "frames": frames,
        "source_fps": str(info.fps),
        "floor_fps": round(floor_fps, 2),
        "process_fps": report["fps"],
        "ratio": round(report["fps"] / floor_fps, 3),
        "peak_rss_mb": report["peak_rss_mb"],
        "backend": report["backend"],
        "decoded_on": "cpu" if decoder_accel(device) is None else "nvdec",  # the floor's and `process`'s
        "stage_seconds": report["stage_seconds"],
        # Each stage's time a frame, beside the floor's (stages overlap: they add up to more than the wall).
        "stage_ms_per_frame": {
            stage: round(1000 * s / frames, 2) for stage, s in report["stage_seconds"].items()
        },
        "floor_ms_per_frame": round(1000 / floor_fps, 2),
        # CPU a frame, all threads: what two cores must share. Each stage's own thread's share beside it
        # (decode's and the encoder's codec threads show only in the totals).
        "floor_cpu_ms_per_frame": round(1000 * floor_cpu_s / floor_frames, 2),
        "process_cpu_ms_per_frame": round(1000 * report["cpu_seconds"] / frames, 2),
        "stage_cpu_ms_per_frame": {
            stage: round(1000 * s / frames, 2) for stage, s in report["stage_cpu_seconds"].items()
        },
    }
    if by_preset is not None:
        result["preset_fps"] = by_preset
    return result


def bench_pipeline(
    settings: Settings,
    *,
    source: Path | None = None,
    width: int = 1280,
    height: int = 720,
    seconds: float = 10.0,
    timeout_s: float = 3600,
    output_format: str = "mp4",
    background: str | None = None,
) -> dict[str, Any]:
    """The same clip through the Kafka pipeline (servers and workers already up) and through `process`,
    written as ``output_format`` on ``background`` (default: blur for mp4, else transparent).

    Without ``source`` it uses a sample clip of the given size and length, written once to the state folder.
    """
    background = background or ("blur" if output_format == "mp4" else "transparent")
    from backdrop.submit import follow_from_now, submit, wait_for
    from infra.workers import running_workers
    from schemas import JobCompleted, JobOptions, LifecycleEvent

    if not running_workers(settings):
        raise BackdropError("no pipeline workers are running: start them with `backdrop up`")
    if source is None:
        source = settings.state_dir / "bench" / f"sample-{width}x{height}-{seconds:g}s.mp4"
        if not source.exists():
            write_sample(source, seconds=seconds, width=width, height=height)
    info = probe(source)
    follower = follow_from_now(settings)
    first: list[float] = []

    def note(event: LifecycleEvent) -> None:
        if not first and event.event_type in {"accepted", "stage_progress"}:
            first.append(time.perf_counter())

    try:
        started = time.perf_counter()
        job = submit(settings, source, JobOptions(background=background, output_format=output_format))
        submitted = time.perf_counter()
        final = wait_for(follower, job.job_id, timeout_s=timeout_s, on_event=note)
        pipeline_s = time.perf_counter() - started
    finally:
        follower.close()
    if not isinstance(final, JobCompleted):
        raise BackdropError(f"the benchmark job did not complete: {final.model_dump_json()}")
    with tempfile.TemporaryDirectory(prefix="backdrop-bench-") as tmp:
        report = run_process(source, Path(tmp) / OUTPUT_NAMES[output_format], ["--background", background])
    pipeline_fps = info.frame_count / pipeline_s
    return {
        "size": f"{info.width}x{info.height}",
        "format": output_format,
        "background": background,
        "frames": info.frame_count,
        "pipeline_fps": round(pipeline_fps, 2),
        "process_fps": report["fps"],
        "ratio": round(pipeline_fps / report["fps"], 3),
        "pipeline_seconds": round(pipeline_s, 2),
        "submit_to_first_event_s": round(first[0] - submitted, 3) if first else None,
        "workers": len(running_workers(settings)),
    }
