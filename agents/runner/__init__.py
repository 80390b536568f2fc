"""`backdrop process`: the stage cores chained in one process, overlapped by threads with bounded queues.

decode ─► segment + score ─► matte + composite ─► encode (this thread)

Chunk borders are the pipeline's: at each chunk start the matte state is reset and re-settled over the
chunk's warm-up frames, exactly as a matte worker that only sees that chunk does. So `process` and the
Kafka pipeline produce the same frames.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from av.codec.hwaccel import HWAccel

from agents.composite import BackgroundPixels, composite, open_background
from agents.encode import VideoWriter, output_format
from agents.encode.formats import is_sequence
from agents.encode.images import write_image, write_poster
from agents.extract import (
    ChunkSpec,
    FrameBatch,
    Limits,
    MediaInfo,
    iter_frames,
    output_clock,
    plan_chunks,
    probe,
    read_image,
    scan_packets,
)
from agents.extract import validate as validate_limits
from agents.matte import MATTE_PRESETS, MatteParams, MatteState, reduced, refine, settle, warm_up
from agents.runner.threads import Stage
from agents.score import HeroPicker, ScoreState, analysis_size, score
from agents.segment.handoff import handed_off
from base.errors import OutputError
from schemas.background import Background, Colour, Transparent
from schemas.options import Quality

U8 = np.ndarray


class FrameSegmenter(Protocol):
    """What the runner needs of a segmenter (agents.segment.Segmenter is one)."""

    @property
    def backend(self) -> str: ...

    def predict(self, frames: np.ndarray) -> np.ndarray:
        """[T, H, W, 3] uint8 RGB → [T, h, w] float32 probabilities."""
        ...


STILL_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


@dataclass(frozen=True)
class ProcessOptions:
    background: Background | None = None  # None: transparent where the output holds alpha, else white
    batch_frames: int | None = None  # None: about eight 720p frames' worth of pixels per batch
    chunk_seconds: float = 2.0
    warmup_frames: int = 8
    stills_dir: Path | None = None  # hero frames and a poster go here when set
    heroes: int = 5
    limits: Limits = field(default_factory=Limits)
    quality: Quality = "standard"  # the encoder's settings and, unless ``matte`` is given, the matte's
    matte: MatteParams | None = None
    decode_accel: HWAccel | None = None  # decode on a GPU (agents.extract.accel.decoder_accel)

    @property
    def matte_params(self) -> MatteParams:
        return self.matte if self.matte is not None else MATTE_PRESETS[self.quality]


@dataclass
class ProcessReport:
    input: Path
    output: Path
    frames: int
    width: int
    height: int
    fps: str
    seconds: float
    stage_seconds: dict[str, float]  # wall time each stage worked (its thread may have waited for a core)
    stills: list[Path]
    backend: str
    cpu_seconds: float  # CPU time of the whole process over `seconds`, every thread
    # each stage's own thread's CPU time; decode's and encode's codec threads count only in cpu_seconds
    stage_cpu_seconds: dict[str, float]

    @property
    def output_fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "input": str(self.input),
            "output": str(self.output),
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "source_fps": self.fps,
            "seconds": round(self.seconds, 3),
            "fps": round(self.output_fps, 2),
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "cpu_seconds": round(self.cpu_seconds, 3),
            "stage_cpu_seconds": {k: round(v, 3) for k, v in self.stage_cpu_seconds.items()},
            "stills": [str(p) for p in self.stills],
            "backend": self.backend,
        }


# Frames in flight are a few batches per stage: a batch of eight 720p frames' worth of pixels keeps memory
# flat whatever the frame size (a 4K batch is two frames, a 360p one 32).
BATCH_PIXELS = 8 * 1280 * 720


def default_batch(width: int, height: int) -> int:
    """Frames per batch for ``width``×``height``: the batch size follows the frame area."""
    return max(1, round(BATCH_PIXELS / (width * height)))


@dataclass
class _Inferred:
    batch: FrameBatch
    small: np.ndarray  # [T, h, w, 3] the frames at the matte's working scale
    probs: np.ndarray  # [T, h, w]
    cuts: np.ndarray  # [T]
    quality: np.ndarray  # [T]


@dataclass
class _Matted:
    source: U8  # [T, H, W, 3] the original frames
    alpha: U8  # [T, H, W]
    fg: U8  # [T, H, W, 3]
    indices: np.ndarray  # [T] int64
    pts: np.ndarray  # [T] int64
    quality: np.ndarray  # [T] float32


@dataclass
class _Rendered:
    frames: U8  # [T, H, W, 3 or 4]
    pts: np.ndarray


def default_background(output: Path) -> Background:
    """Transparent where the output can hold alpha, white where it cannot."""
    if output.suffix.lower() in {".jpg", ".jpeg", ".mp4", ".m4v"}:
        return Colour(rgb=(255, 255, 255), name="white")
    return Transparent()


def process(
    source: Path,
    output: Path,
    load_segmenter: Callable[[], FrameSegmenter],
    options: ProcessOptions = ProcessOptions(),
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> ProcessReport:
    """Replace the background of ``source`` (video or still) and write ``output``.

    The model is loaded (``load_segmenter``) only once the input has passed its checks.
    """
    started, started_cpu = time.perf_counter(), time.process_time()
    # The stages run side by side as threads: OpenCV's own thread pool on top of them only oversubscribes
    # the cores and adds hand-offs on the small working-scale images (measured: ~4% faster without it).
    cv2.setNumThreads(1)
    info = probe(source)
    validate_limits(info, options.limits)
    chosen = options.background if options.background is not None else default_background(output)
    if isinstance(chosen, Transparent) and not _holds_alpha(output):
        raise OutputError(
            f"{output.name} cannot hold transparency: write .webm, .mov, .png or a PNG folder, "
            "or choose a background colour, image, video or blur"
        )
    if info.is_image != _still_output(output):
        raise OutputError(
            f"{source.name} is a {'still' if info.is_image else 'video'}, so write "
            + (
                "a still: .png (keeps transparency) or .jpg"
                if info.is_image
                else "a video: .mp4, .webm, .mov or a PNG sequence (frames/frame_%06d.png)"
            )
        )
    background = open_background(chosen, info.width, info.height, info.fps)
    # The matte loops load from numba's cache (~1 s, mostly outside the GIL) while the model loads, instead
    # of in front of the first batch.
    warming = threading.Thread(target=warm_up, name="backdrop-warm-up", daemon=True)
    warming.start()
    try:
        segmenter = load_segmenter()
        if info.is_image:
            clock, stills = _process_still(info, output, segmenter, background, options)
            frames = 1
        else:
            frames, clock, stills = _process_video(info, output, segmenter, background, options, on_progress)
    finally:
        background.close()
        # Never leave while it is inside LLVM: a process that exits then aborts ("terminate called without
        # an active exception"), as a bad input's clear error did before this join.
        warming.join()
    wall, cpu = clock.ordered()
    return ProcessReport(
        source,
        output,
        frames,
        info.width,
        info.height,
        str(info.fps),
        time.perf_counter() - started,
        wall,
        stills,
        segmenter.backend,
        time.process_time() - started_cpu,
        cpu,
    )


def _still_output(output: Path) -> bool:
    return output.suffix.lower() in STILL_SUFFIXES and not is_sequence(output)


def _holds_alpha(output: Path) -> bool:
    if _still_output(output):
        return output.suffix.lower() in {".png", ".webp"}
    return output_format(output).alpha_pix_fmt is not None


def _process_still(
    info: MediaInfo,
    output: Path,
    segmenter: FrameSegmenter,
    background: BackgroundPixels,
    options: ProcessOptions,
) -> tuple[_Clocks, list[Path]]:
    clock = _Clocks()
    with clock.timed("decode"):
        frames = read_image(info.path)
    with clock.timed("segment"):
        probs = segmenter.predict(frames)
    with clock.timed("matte"):
        alpha, fg, _ = refine(frames, probs, None, None, options.matte_params)
    with clock.timed("composite"):
        out = _composite(background, fg, alpha, np.zeros(1, np.int64), frames)
    with clock.timed("encode"):
        write_image(output, out[0])
    return clock, []


def _process_video(
    info: MediaInfo,
    output: Path,
    segmenter: FrameSegmenter,
    background: BackgroundPixels,
    options: ProcessOptions,
    on_progress: Callable[[int, int], None],
) -> tuple[int, _Clocks, list[Path]]:
    scan = scan_packets(info)
    chunks = plan_chunks(info, options.chunk_seconds, options.warmup_frames, scan=scan)
    timing = output_clock(info, scan.pts)
    total = chunks[-1].stop if chunks else info.frame_count
    heroes = HeroPicker(total, options.heroes) if options.stills_dir else None
    batch = options.batch_frames or default_batch(info.width, info.height)
    decoded = iter_frames(info.path, batch, options.decode_accel)
    decode = Stage("decode", decoded, lambda b: [b], source_is_work=True)
    infer = Stage("segment", decode, _Inference(segmenter, options.matte_params))
    # The matted and composited batches are the largest (frames + alpha + foreground): queue one each.
    matte = Stage("matte", infer, _Matter(chunks, options.matte_params), maxsize=1)
    render = Stage("composite", matte, _Compositor(background, heroes), maxsize=1)
    done = 0
    audio = info.path if info.audio is not None else None
    writer = VideoWriter(
        output,
        info.width,
        info.height,
        time_base=timing.time_base,
        fps=info.fps,
        audio=audio,
        quality=options.quality,
    )
    clock = _Clocks()
    try:
        for item in render:
            with clock.timed("encode"):
                writer.write(item.frames, timing.stamps(item.pts))
            done += len(item.pts)
            on_progress(done, total)
        with clock.timed("encode"):
            writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        for stage in (render, matte, infer, decode):
            stage.stop()
    stills: list[Path] = []
    if heroes is not None and options.stills_dir is not None:
        stills = _write_stills(options.stills_dir, heroes)
    for name, stage in (
        ("decode", decode),
        ("segment+score", infer),
        ("matte", matte),
        ("composite", render),
    ):
        clock.wall[name], clock.cpu[name] = stage.busy_s, stage.cpu_s
    return done, clock, stills


class _Inference:
    """Segment and score one batch, and reduce it to the matte's working scale; the score state runs on
    across batches."""

    def __init__(self, segmenter: FrameSegmenter, params: MatteParams) -> None:
        self.segmenter, self.params = segmenter, params
        self.state: ScoreState | None = None

    def __call__(self, batch: FrameBatch) -> Iterator[_Inferred]:
        # Rounded as the pipeline's segment workers store them: both matte the same numbers.
        probs = handed_off(self.segmenter.predict(batch.frames)).astype(np.float32)
        small = reduced(batch.frames, self.params)
        # Landscape frames are scored at the matte's working scale: one reduction serves both.
        shared = analysis_size(*batch.frames.shape[1:3]) == (small.shape[2], small.shape[1])
        scores, self.state = score(batch.frames, self.state, small=small if shared else None)
        yield _Inferred(batch, small, probs, scores.cut, scores.quality())


class _Matter:
    """Matte, resetting the state at each chunk start and re-settling it on the warm-up frames, as a
    matte worker that sees only that chunk does."""

    def __init__(self, chunks: list[ChunkSpec], params: MatteParams) -> None:
        self.starts = {c.start: c for c in chunks}
        self.params = params
        self.state: MatteState | None = None
        longest_warmup = max((c.start - c.warmup_start for c in chunks), default=0)
        # The tail of the previous chunk at the working scale, replayed as the next chunk's warm-up.
        self.tail: collections.deque[tuple[int, U8, np.ndarray, bool]] = collections.deque(
            maxlen=max(longest_warmup, 1)
        )

    def __call__(self, item: _Inferred) -> Iterator[_Matted]:
        batch = item.batch
        bounds = [0, *(i for i, index in enumerate(batch.indices) if int(index) in self.starts and i > 0)]
        for lo, hi in zip(bounds, [*bounds[1:], len(batch.indices)], strict=True):
            first = int(batch.indices[lo])
            if first in self.starts:
                self._settle(self.starts[first])
            frames, small = batch.frames[lo:hi], item.small[lo:hi]
            probs, cuts = item.probs[lo:hi], item.cuts[lo:hi]
            alpha, fg, self.state = refine(frames, probs, self.state, cuts, self.params, small)
            for i in range(hi - lo):
                self.tail.append((int(batch.indices[lo + i]), small[i], probs[i], bool(cuts[i])))
            yield _Matted(frames, alpha, fg, batch.indices[lo:hi], batch.pts[lo:hi], item.quality[lo:hi])

    def _settle(self, chunk: ChunkSpec) -> None:
        self.state = None
        warm = [entry for entry in self.tail if chunk.warmup_start <= entry[0] < chunk.start]
        if warm:
            small = np.stack([entry[1] for entry in warm])
            probs = np.stack([entry[2] for entry in warm])
            cuts = np.array([entry[3] for entry in warm])
            self.state = settle(small, probs, None, cuts, self.params)


class _Compositor:
    """Put the matted foreground over the background; offer the results as hero stills."""

    def __init__(self, background: BackgroundPixels, heroes: HeroPicker | None) -> None:
        self.background, self.heroes = background, heroes

    def __call__(self, item: _Matted) -> Iterator[_Rendered]:
        out = _composite(self.background, item.fg, item.alpha, item.indices, item.source)
        if self.heroes is not None:
            for i, index in enumerate(item.indices):
                self.heroes.offer(int(index), float(item.quality[i]), out[i])
        yield _Rendered(out, item.pts)


def _composite(background: BackgroundPixels, fg: U8, alpha: U8, indices: np.ndarray, source: U8) -> U8:
    return composite(fg, alpha, background.frames(indices, source, alpha))


def _write_stills(folder: Path, heroes: HeroPicker) -> list[Path]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {folder}: {exc.strerror}") from exc
    written = []
    picked = heroes.heroes()
    for rank, (index, image) in enumerate(picked, start=1):
        path = folder / f"hero-{rank:02d}-frame{index:06d}.png"
        write_image(path, image)
        written.append(path)
    if picked:
        best = max(heroes.slots, key=lambda slot: slot.quality)
        if best.image is not None:
            poster = folder / "poster.jpg"
            write_poster(poster, best.image)
            written.append(poster)
    return written


@dataclass
class _Clocks:
    """Wall and calling-thread CPU seconds per stage."""

    wall: dict[str, float] = field(default_factory=lambda: collections.defaultdict(float))
    cpu: dict[str, float] = field(default_factory=lambda: collections.defaultdict(float))

    def ordered(self) -> tuple[dict[str, float], dict[str, float]]:
        """(wall, cpu) as plain dicts, the stages in the order frames pass them."""
        order = ["decode", "segment+score", "segment", "matte", "composite", "encode"]
        wall, cpu = (
            {name: clock[name] for name in order if name in clock} for clock in (self.wall, self.cpu)
        )
        return wall, cpu

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started, started_cpu = time.perf_counter(), time.thread_time()
        yield
        self.wall[name] += time.perf_counter() - started
        self.cpu[name] += time.thread_time() - started_cpu
