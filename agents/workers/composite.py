"""The composite worker: frames, alpha, foreground colour and background → the chunk's segment, in the job's
output format (H.264, VP9, ProRes 4444 or an archive of PNGs).

It encodes the finished frames itself, with the writer and settings `backdrop process` uses, and keeps
the chunk's best still beside the segment. Handing finished frames to a separate encoder cost more than
the encode: a lossless x264 intermediate (~170 KB a frame) took ~8 ms a 720p frame to write and ~7 ms
to read back, on top of the ~17 ms final encode, all on the same two cores.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import orjson

from agents.composite import BackgroundPixels, composite, open_background
from agents.encode import VideoWriter
from agents.encode.archive import write_png_archive
from agents.encode.images import write_image
from agents.encode.mask import write_mask_image, write_mask_video
from agents.matte.handoff import foreground
from agents.workers.context import (
    CUTOUT,
    HERO,
    SIDE_FILES,
    StageTaskHandler,
    chunk_key,
    mask_name,
    next_task,
    rate,
    segment_name,
)
from base.errors import ObjectRefused
from schemas import ChunkTask
from schemas.background import Image, Video
from streams.worker import Handled


class CompositeHandler(StageTaskHandler[ChunkTask]):
    stage = "composite"
    expects = ChunkTask

    def background(self, task: ChunkTask) -> BackgroundPixels:
        """The job's background; an ``s3://bucket/key`` image or video is fetched to local disk first."""
        background = task.options.background
        if isinstance(background, Image | Video) and (stored := background.s3_object) is not None:
            bucket, key = stored
            uploads = self.context.settings.uploads_bucket
            if bucket != uploads:  # extract's gate checked the owner's prefix; the bucket, again here
                raise ObjectRefused(
                    f"the background is in bucket {bucket!r}; backgrounds come from {uploads!r}"
                )
            local = self.context.cache_dir / f"bg-{bucket}-{key.replace('/', '_')}"
            if not local.exists():
                self.context.store_for(bucket).get_file(key, local)
            background = background.model_copy(update={"ref": str(local)})
        fps, _ = rate(task.media)
        return open_background(background, task.media.width, task.media.height, fps)

    def handle(self, task: ChunkTask) -> Handled:
        started = time.perf_counter()
        chunk = self.context.chunk_frames(task)
        stored = self.context.get_arrays(task.artifacts["matte"])
        frames, alpha = chunk.frames[chunk.output], stored["alpha"]
        fg = foreground(frames, alpha, stored["colours"])
        indices = np.arange(task.chunk.start, task.chunk.stop, dtype=np.int64)
        background = self.background(task)
        try:
            out = composite(fg, alpha, background.frames(indices, frames, alpha))
        finally:
            background.close()
        scores = orjson.loads(self.context.artifacts.get_bytes(task.artifacts["scores"]))
        quality = np.array(scores["quality"][scores["warmup"] :], np.float32)
        best = int(quality.argmax()) if len(quality) else 0
        # The hero as a cut-out too, unless the output is one already.
        cutout = (
            composite(fg[best : best + 1], alpha[best : best + 1], None)[0] if out.shape[-1] == 3 else None
        )
        del fg
        work = self.context.cache_dir
        marker = segment_name(task.options, task.media)
        local = {name: work / f"{task.job_id}-{task.chunk.index}-{name}" for name in (marker, *SIDE_FILES)}
        pts = chunk.pts[chunk.output]

        def keep(name: str) -> str:
            key = chunk_key(task.job_id, "composite", task.chunk.index, name)
            self.context.artifacts.put_file(key, local[name])
            return key

        try:
            self._encode(task, local[marker], out, pts)
            write_image(local[HERO], out[best])
            hero_key = keep(HERO)
            if cutout is not None:
                write_image(local[CUTOUT], cutout)
                keep(CUTOUT)
            if task.options.mask:
                self._mask(task, local[mask_name(task)], alpha, pts)
                keep(mask_name(task))
            facts = {
                "quality": float(quality[best]) if len(quality) else 0.0,
                "frame": task.chunk.start + best,
            }
            self.context.artifacts.put_bytes(
                chunk_key(task.job_id, "composite", task.chunk.index, "hero.json"), orjson.dumps(facts)
            )
            # The segment last: its presence tells assemble the chunk is complete.
            segment_key = keep(marker)
        finally:
            for path in local.values():
                path.unlink(missing_ok=True)
        self.context.forget_frames(task)
        return Handled(
            [
                self.context.progress(task, "composite", marker),
                next_task(task, {"segment": segment_key, "hero": hero_key}, time.perf_counter() - started),
            ]
        )

    def _mask(self, task: ChunkTask, path: Path, alpha: np.ndarray, pts: np.ndarray) -> None:
        if task.media.is_image:
            write_mask_image(path, alpha[0])
            return
        fps, time_base = rate(task.media)
        write_mask_video(path, alpha, pts, time_base=time_base, fps=fps)

    def _encode(self, task: ChunkTask, segment: Path, frames: np.ndarray, pts: np.ndarray) -> None:
        """The chunk's frames in the job's format, with the writer and settings `backdrop process` uses."""
        if task.media.is_image:
            write_image(segment, frames[0])
            return
        quality = task.options.quality
        if task.options.output_format == "png":
            write_png_archive(segment, frames, task.chunk.start, quality)
            return
        fps, time_base = rate(task.media)
        size = task.media.width, task.media.height
        with VideoWriter(segment, *size, time_base=time_base, fps=fps, quality=quality) as writer:
            writer.write(frames, pts)
