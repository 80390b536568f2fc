"""What the stage workers share: where a job's objects live, its source on local disk, a chunk's frames.

This is adapter code (object-store reads, local files); the math stays in the stage cores.
"""

from __future__ import annotations

import functools
import logging
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

import numpy as np
from av.codec.hwaccel import HWAccel

from agents.extract import ChunkSpec, plan_chunks
from agents.extract.accel import decoder_accel
from agents.extract.decode import read_image
from agents.workers.arrays import npz_arrays, npz_bytes
from agents.workers.chunk_decode import DecodedChunk, decode_run, shared_pass
from agents.workers.frame_cache import FrameCache
from agents.workers.spare_memory import spare_memory_bytes
from base.errors import UnsupportedInput
from base.settings import Settings
from schemas import (
    STAGE_ADAPTER,
    AssembleTask,
    ChunkEvent,
    ChunkTask,
    JobOptions,
    MediaFacts,
    PipelineStage,
    StageProgress,
    next_chunk_stage,
)
from streams.codec import decode
from streams.errors import PoisonMessage
from streams.headers import Headers
from streams.s3_store import s3_store
from streams.store import ObjectStore, object_key
from streams.topics import JOBS, stage_inputs, stage_topic
from streams.worker import Outgoing, event_id

log = logging.getLogger(__name__)
# The stage event a handler takes: ChunkTask for the chunk stages, AssembleTask for assemble.
T = TypeVar("T", bound=ChunkEvent)

# The chunking every worker agrees on: about two seconds, eight warm-up frames for the temporal stages;
# shorter where two seconds of decoded frames would pass the memory budget (`chunk_seconds`).
CHUNK_SECONDS = 2.0
WARMUP_FRAMES = 8
# Frames of one job's source kept on a worker's disk; a worker sees few jobs at a time.
SOURCES_KEPT = 4
# A chunk's finished segment in the job's output format (with hero.png and hero.json beside it) lives under
# this stage's objects: the composite worker encodes it; encode checks and announces it; assemble joins them.
SEGMENT_STAGE = "composite"
# Each output format: the suffix of its segments and output, and the output's media type. A PNG sequence
# travels as a ZIP archive of frames.
OUTPUT_FILES = {
    "mp4": (".mp4", "video/mp4"),
    "webm": (".webm", "video/webm"),
    "mov": (".mov", "video/quicktime"),
    "png": (".zip", "application/zip"),
}
# The frame cache's byte limit when none is set: only the memory guard bounds it then.
UNBOUNDED = 1 << 62


def chunk_seconds(width: int, height: int, fps: Fraction, budget_bytes: int) -> float:
    """The chunk length for this picture size and rate: CHUNK_SECONDS, or less where a chunk's decoded RGB
    frames, warm-up included, would need more than ``budget_bytes`` (never under one frame). Extract and
    every chunk worker compute it from the same facts, so they cut the same chunks."""
    frames = budget_bytes // (width * height * 3) - WARMUP_FRAMES
    return min(CHUNK_SECONDS, max(1, frames) / float(fps))


def source_key(job_id: str, suffix: str) -> str:
    return object_key(job_id, "extract", None, f"source{suffix}")


def chunk_key(job_id: str, stage: str, index: int, name: str) -> str:
    return object_key(job_id, stage, index, name)


VIDEO_FORMATS = frozenset(OUTPUT_FILES)
STILL_FILES = {"png": (".png", "image/png"), "jpg": (".jpg", "image/jpeg"), "webp": (".webp", "image/webp")}


def output_file(options: JobOptions, media: MediaFacts) -> tuple[str, str]:
    """The suffix and media type of the job's result: a still gives a still (png unless jpg or webp)."""
    if media.is_image:
        return STILL_FILES.get(options.output_format, STILL_FILES["png"])
    return OUTPUT_FILES[options.output_format]


# What the composite worker keeps beside each chunk's segment: the chunk's best still, as composited and
# as a cut-out (unless the output is transparent), and the chunk's matte when the job asks for it.
HERO, CUTOUT = "hero.png", "cutout.png"
SIDE_FILES = (HERO, CUTOUT, "mask.mp4", "mask.png")


def mask_name(task: ChunkTask | AssembleTask) -> str:
    return "mask.png" if task.media.is_image else "mask.mp4"


def segment_name(options: JobOptions, media: MediaFacts) -> str:
    """The name of a chunk's segment object: "segment" and the result's suffix."""
    return "segment" + output_file(options, media)[0]


def stage_prefix(job_id: str, stage: str) -> str:
    """The prefix under which a stage stores a job's objects (for listing)."""
    return object_key(job_id, stage, None, "x")[: -len("x")]


@dataclass
class ChunkFrames:
    frames: np.ndarray  # [T, H, W, 3] uint8: warm-up frames first, then the chunk's own
    pts: np.ndarray  # [T] int64, source time_base
    warmup: int  # how many leading frames only warm up

    @property
    def output(self) -> slice:
        return slice(self.warmup, None)


@dataclass
class StageContext:
    """A worker's connections and its local cache of job sources."""

    settings: Settings
    artifacts: ObjectStore
    cache_dir: Path
    frames: FrameCache = field(default_factory=lambda: FrameCache(Path(), 0))
    decode_accel: HWAccel | None = None  # NVDEC, where the settings and the machine allow it
    _sources: OrderedDict[str, Path] = field(default_factory=OrderedDict)
    _plans: dict[str, list[ChunkSpec]] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings, decodes: bool = True) -> StageContext:
        """``decodes``: the stage decodes video chunks, so it opens its decoder (a GPU's, if asked) now."""
        limit = settings.frame_cache_mb * 2**20 if settings.frame_cache_mb is not None else UNBOUNDED
        frames = FrameCache(
            settings.frame_cache_folder,
            limit,
            spare=functools.partial(spare_memory_bytes, settings.frame_cache_keep_free),
        )
        # Asked for a GPU to decode on where none answers, the worker stops here, before taking any work.
        # A stage that never decodes does not open the GPU at all (a context costs GPU memory per process).
        accel = decoder_accel(settings.decode_device) if decodes else None
        cache_dir = Path(tempfile.mkdtemp(prefix="backdrop-worker-"))
        return cls(settings, s3_store(settings), cache_dir, frames, decode_accel=accel)

    def store_for(self, bucket: str) -> ObjectStore:
        return s3_store(self.settings, bucket)

    def source(self, key: str) -> Path:
        """The job's source on local disk, downloaded once per worker (decoding beats storing frames)."""
        if key in self._sources:
            self._sources.move_to_end(key)
            return self._sources[key]
        local = self.cache_dir / key.replace("/", "_")
        self.artifacts.get_file(key, local)
        self._sources[key] = local
        while len(self._sources) > SOURCES_KEPT:
            old_key, old = self._sources.popitem(last=False)
            old.unlink(missing_ok=True)
            self._plans.pop(old_key, None)
        return local

    def chunk_frames(self, task: ChunkTask) -> ChunkFrames:
        """The task's chunk, warm-up frames included: shared by a worker beside this one, or decoded."""
        warmup = task.chunk.start - task.chunk.warmup_start
        name = FrameCache.name(task.source_key, task.chunk.index)
        cached = self.frames.get(name, task.chunk.stop - task.chunk.warmup_start)
        if cached is not None:
            _check_size(cached.frames, task)
            return ChunkFrames(cached.frames, cached.pts, warmup)
        local = self.source(task.source_key)
        if task.media.is_image:
            # The still's own reader: EXIF orientation, and the size guard for a very large picture.
            return ChunkFrames(read_image(local), np.zeros(1, np.int64), 0)
        if task.source_key not in self._plans:
            fps, _ = rate(task.media)
            seconds = chunk_seconds(
                task.media.width, task.media.height, fps, self.settings.chunk_memory_bytes
            )
            self._plans[task.source_key] = plan_chunks(local, seconds, WARMUP_FRAMES)
        plan = self._plans[task.source_key]
        spec = plan[task.chunk.index]
        frame_bytes = task.media.width * task.media.height * 3
        spare = self.frames.room_bytes() // frame_bytes - spec.frame_count
        run = shared_pass(
            plan, spec.index, spare, lambda c: self.frames.has(FrameCache.name(task.source_key, c.index))
        )
        mine: list[DecodedChunk] = []
        reserved: set[int] = set()

        def allocate(chunk: ChunkSpec, shape: tuple[int, ...]) -> np.ndarray:
            mapped = self.frames.reserve(FrameCache.name(task.source_key, chunk.index), shape)
            if mapped is None:
                return np.empty(shape, np.uint8)
            reserved.add(chunk.index)
            return mapped

        def keep(chunk: ChunkSpec, decoded: DecodedChunk) -> None:
            if chunk.index == spec.index:
                mine.append(decoded)
            name = FrameCache.name(task.source_key, chunk.index)
            if chunk.index in reserved:
                reserved.discard(chunk.index)
                self.frames.publish(name, decoded.pts)
            else:
                self.frames.put(name, decoded.frames, decoded.pts)

        try:
            decode_run(local, run, keep, allocate, self.decode_accel)
        finally:
            for index in reserved:  # decoding failed part-way: no half-filled chunk stays behind
                self.frames.abandon(FrameCache.name(task.source_key, index))
        log.info("decoded chunks %s of %s in one pass", [c.index for c in run], task.job_id)
        (decoded,) = mine
        _check_size(decoded.frames, task)
        return ChunkFrames(decoded.frames, decoded.pts, warmup)

    def forget_frames(self, task: ChunkTask) -> None:
        """The chunk's shared frames are no longer needed on this machine (its last reader is done)."""
        self.frames.drop(FrameCache.name(task.source_key, task.chunk.index))

    def put_array(
        self, key: str, stored: Collection[str] = (), fast: Collection[str] = (), **arrays: np.ndarray
    ) -> None:
        """Store ``arrays`` as one npz (members compressed as `agents.workers.arrays.npz_bytes` says)."""
        self.artifacts.put_bytes(key, npz_bytes(arrays, stored, fast), "application/x-npz")

    def get_arrays(self, key: str) -> dict[str, np.ndarray]:
        return npz_arrays(self.artifacts.get_bytes(key))

    def progress(self, task: ChunkTask, stage: str, marker: str) -> Outgoing:
        """A progress event counting this stage's finished chunks of the job (by their stored markers)."""
        prefix = stage_prefix(task.job_id, stage)
        done = sum(1 for key in self.artifacts.list(prefix) if key.endswith("/" + marker))
        event = StageProgress(
            event_type="stage_progress",
            event_id=event_id(task.job_id, "progress", stage, task.chunk.index),
            job_id=task.job_id,
            stage=stage,
            chunks_done=min(max(done, 1), task.chunk.count),
            chunks_total=task.chunk.count,
        )
        return Outgoing(JOBS.name, task.job_id, event)

    def close(self) -> None:
        shutil.rmtree(self.cache_dir, ignore_errors=True)


def _check_size(frames: np.ndarray, task: ChunkTask) -> None:
    """A chunk decoded on its own may open on a later picture size than the one extract probed (a stream
    whose size changes part-way): every stage after this one holds one size for the whole job."""
    size = (task.media.width, task.media.height)
    if frames.shape[1:3] != size[::-1]:
        raise UnsupportedInput(
            f"the picture changes size near frame {task.chunk.warmup_start}, from {size[0]}×{size[1]} to "
            f"{frames.shape[2]}×{frames.shape[1]}; re-encode the video at one size first"
        )


class StageTaskHandler(Generic[T]):
    """What the handlers of ``backdrop.stage.<stage>`` share: the context, their topic, decoding a ``T``."""

    stage: ClassVar[PipelineStage]
    # The event class it takes, the type argument again: a class is needed to check it at run time.
    expects: type[T]

    def __init__(self, context: StageContext) -> None:
        self.context = context

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in stage_inputs(self.stage))

    def decode(self, topic: str, value: bytes | None, headers: Headers) -> T:
        event = decode(value, STAGE_ADAPTER)
        if not isinstance(event, self.expects):
            raise PoisonMessage(
                f"the {self.stage} stage takes {self.expects.__name__}, not {event.event_type}", value
            )
        return event


def next_task(task: ChunkTask, artifacts: dict[str, str], seconds: float) -> Outgoing:
    """The same chunk, addressed to the stage after its own, with this stage's outputs and time added."""
    stage = next_chunk_stage(task.stage)
    event = task.model_copy(
        update={
            "stage": stage,
            "event_id": event_id(task.job_id, stage, task.chunk.index),
            "artifacts": {**task.artifacts, **artifacts},
            "metrics": {**task.metrics, f"{task.stage}_s": round(seconds, 4)},
            "attempt": 0,
        }
    )
    return Outgoing(stage_topic(stage).name, f"{task.job_id}/{task.chunk.index}", event)


def rate(media: MediaFacts) -> tuple[Fraction, Fraction]:
    """(fps, time_base) of the source, exact."""
    return Fraction(media.fps), Fraction(media.time_base)
