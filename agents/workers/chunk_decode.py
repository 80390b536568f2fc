"""Decode a chunk together with its neighbours that start from the same keyframe, for the frame cache.

Reaching a chunk means decoding from the keyframe at or before its warm-up, so with long keyframe
intervals (x264's default is 250 frames, ~8 s) the frames of the neighbouring chunks pass through the
decoder anyway, and chunks arrive in no particular order (they are spread over partitions). Converting
those neighbours too and leaving them in the machine's frame cache costs ~1 ms a frame; decoding them
again from the keyframe later would cost several times that. The neighbours kept stay within the room
the cache has, so a full cache turns this back into decoding the one chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from av.codec.hwaccel import HWAccel

from agents.extract import ChunkSpec
from agents.extract.decode import chunk_frames


@dataclass(frozen=True)
class DecodedChunk:
    frames: np.ndarray  # [T, H, W, 3] uint8, warm-up frames first
    pts: np.ndarray  # [T] int64


def shared_pass(
    plan: list[ChunkSpec], index: int, budget_frames: int, cached: Callable[[ChunkSpec], bool]
) -> list[ChunkSpec]:
    """The run of chunks around ``plan[index]`` that one pass from its keyframe decodes, in order.

    Earlier chunks must be decoded to reach this one anyway; later ones cost their own frames. All share
    the chunk's keyframe, are not ``cached`` yet, and hold at most ``budget_frames`` frames beside it.
    """
    spec = plan[index]
    run, spare = [spec], budget_frames
    before = index - 1
    while before >= 0 and plan[before].seek_ts == spec.seek_ts and not cached(plan[before]):
        if plan[before].frame_count > spare:
            break
        spare -= plan[before].frame_count
        run.insert(0, plan[before])
        before -= 1
    after = index + 1
    while after < len(plan) and plan[after].seek_ts == spec.seek_ts and not cached(plan[after]):
        if plan[after].frame_count > spare:
            break
        spare -= plan[after].frame_count
        run.append(plan[after])
        after += 1
    return run


def in_memory(chunk: ChunkSpec, shape: tuple[int, ...]) -> np.ndarray:
    """Frames for a chunk in this process's memory."""
    return np.empty(shape, np.uint8)


def decode_run(
    source: Path,
    run: list[ChunkSpec],
    keep: Callable[[ChunkSpec, DecodedChunk], None],
    allocate: Callable[[ChunkSpec, tuple[int, ...]], np.ndarray] = in_memory,
    accel: HWAccel | None = None,
) -> None:
    """Decode the chunks of ``run`` (consecutive, one keyframe) in one pass; ``keep`` gets each, in order.

    ``allocate`` gives each chunk's frames [T, H, W, 3] to fill (the frame cache maps them from its RAM disk);
    ``accel`` decodes on a GPU.
    """
    first, last = run[0], run[-1]
    # The first chunk's warm-up start and seek point, the last one's end: one decode covers them all.
    span = replace(first, stop=last.stop)
    pending = list(run)
    buffers: dict[int, np.ndarray] = {}
    stamps: dict[int, np.ndarray] = {}
    # Frame by frame, unbatched: each is copied once, into every chunk that holds it (warm-ups overlap).
    for index, (rgb, pts) in enumerate(chunk_frames(source, span, accel), start=span.warmup_start):
        for chunk in pending:
            if not chunk.warmup_start <= index < chunk.stop:
                continue
            if chunk.index not in buffers:
                buffers[chunk.index] = allocate(chunk, (chunk.frame_count, *rgb.shape))
                stamps[chunk.index] = np.empty(chunk.frame_count, np.int64)
            buffers[chunk.index][index - chunk.warmup_start] = rgb
            stamps[chunk.index][index - chunk.warmup_start] = pts
        while pending and pending[0].stop <= index + 1:
            done = pending.pop(0)
            keep(done, DecodedChunk(buffers.pop(done.index), stamps.pop(done.index)))
