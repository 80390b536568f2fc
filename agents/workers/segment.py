"""The segment worker: a chunk's frames → person probability at the model's size, batched, stored as npz."""

from __future__ import annotations

import time
from collections.abc import Callable

from agents.segment.backends import Segmenter
from agents.segment.handoff import handed_off
from agents.workers.context import StageContext, StageTaskHandler, chunk_key, next_task
from base.errors import ModelUnknown
from schemas import ChunkTask
from streams.worker import Handled

MARKER = "probs.npz"


class SegmentHandler(StageTaskHandler[ChunkTask]):
    """Loads each model a job names the first time one does, and keeps it: a deployment serves a few."""

    stage = "segment"
    expects = ChunkTask

    def __init__(self, context: StageContext, served: list[str], load: Callable[[str], Segmenter]) -> None:
        super().__init__(context)
        self.served, self.load = served, load
        self.segmenters: dict[str, Segmenter] = {}

    def segmenter(self, name: str) -> Segmenter:
        if name not in self.segmenters:
            if name not in self.served:
                # extract checked it against the same list: this worker was configured otherwise
                raise ModelUnknown(f"this segment worker serves {', '.join(self.served)}, not {name!r}")
            self.segmenters[name] = self.load(name)
        return self.segmenters[name]

    def handle(self, task: ChunkTask) -> Handled:
        started = time.perf_counter()
        chunk = self.context.chunk_frames(task)
        probs = self.segmenter(task.options.model).predict(chunk.frames)  # [T, h, w] float32
        key = chunk_key(task.job_id, "segment", task.chunk.index, MARKER)
        # 256×256 float16 maps compress to a few kB per frame.
        self.context.put_array(key, probs=handed_off(probs))
        return Handled(
            [
                self.context.progress(task, "segment", MARKER),
                next_task(task, {"probs": key}, time.perf_counter() - started),
            ]
        )
