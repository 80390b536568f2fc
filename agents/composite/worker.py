"""The composite worker: frames, alpha, foreground colour and background → the finished chunk, lossless."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from agents.composite import Background, composite, open_background
from agents.encode.intermediate import write_intermediate
from agents.matte.worker import foreground
from agents.pipeline import StageTaskHandler, chunk_key, next_task, rate
from schemas import ChunkTask
from streams.worker import Handled

MARKER = "frames.nut"


class CompositeHandler(StageTaskHandler):
    stage = "composite"

    def background(self, task: ChunkTask) -> Background:
        """The job's background; an ``s3://bucket/key`` image or video is fetched to local disk first."""
        spec = task.options.background
        fit = ""
        for prefix in ("contain:", "cover:"):
            if spec.startswith(prefix):
                fit, spec = prefix, spec[len(prefix) :]
        if spec.startswith("s3://"):
            bucket, _, key = spec[len("s3://") :].partition("/")
            local = self.context.cache_dir / f"bg-{bucket}-{key.replace('/', '_')}"
            if not local.exists():
                self.context.store_for(bucket).get_file(key, local)
            spec = f"{fit}{local}"
        fps, _ = rate(task.media)
        return open_background(spec, task.media.width, task.media.height, fps)

    def handle(self, task: ChunkTask) -> Handled:
        started = time.perf_counter()
        chunk = self.context.chunk_frames(task)
        stored = self.context.get_arrays(task.artifacts["matte"])
        frames = chunk.frames[chunk.output]
        fg = foreground(frames, stored)
        indices = np.arange(task.chunk.start, task.chunk.stop, dtype=np.int64)
        background = self.background(task)
        try:
            out = composite(fg, stored["alpha"], background.frames(indices, frames, stored["alpha"]))
        finally:
            background.close()
        _, time_base = rate(task.media)
        local = self.context.cache_dir / f"{task.job_id}-{task.chunk.index}.nut"
        write_intermediate(local, out, chunk.pts[chunk.output], time_base)
        key = chunk_key(task.job_id, "composite", task.chunk.index, MARKER)
        try:
            self.context.artifacts.put_file(key, local)
        finally:
            Path(local).unlink(missing_ok=True)
        return Handled(
            [
                self.context.progress(task, "composite", MARKER),
                next_task(task, "encode", {"composite": key}, time.perf_counter() - started),
            ]
        )
