"""The segment worker: a chunk's frames → person probability at the model's size, batched, stored as npz."""

from __future__ import annotations

import time

from agents.segment.backends import Segmenter
from agents.segment.handoff import handed_off
from agents.workers.context import StageContext, StageTaskHandler, chunk_key, next_task
from schemas import ChunkTask
from streams.worker import Handled

MARKER = "probs.npz"


class SegmentHandler(StageTaskHandler[ChunkTask]):
    stage = "segment"
    expects = ChunkTask

    def __init__(self, context: StageContext, segmenter: Segmenter) -> None:
        super().__init__(context)
        self.segmenter = segmenter

    def handle(self, task: ChunkTask) -> Handled:
        started = time.perf_counter()
        chunk = self.context.chunk_frames(task)
        probs = self.segmenter.predict(chunk.frames)  # [T, h, w] float32
        key = chunk_key(task.job_id, "segment", task.chunk.index, MARKER)
        # 256×256 float16 maps compress to a few kB per frame.
        self.context.put_array(key, probs=handed_off(probs))
        return Handled(
            [
                self.context.progress(task, "segment", MARKER),
                next_task(task, {"probs": key}, time.perf_counter() - started),
            ]
        )
