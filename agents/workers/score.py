"""The score worker: a chunk's frames → per-frame scores and scene cuts, stored as JSON."""

from __future__ import annotations

import time

import orjson

from agents.score.core import score
from agents.workers.context import StageTaskHandler, chunk_key, next_task
from schemas import ChunkTask
from streams.worker import Handled

MARKER = "scores.json"


class ScoreHandler(StageTaskHandler[ChunkTask]):
    stage = "score"
    expects = ChunkTask

    def handle(self, task: ChunkTask) -> Handled:
        started = time.perf_counter()
        chunk = self.context.chunk_frames(task)
        scores, _ = score(chunk.frames)
        key = chunk_key(task.job_id, "score", task.chunk.index, MARKER)
        # Warm-up frames included: the matte stage replays them with their cuts.
        document = {"cut": scores.cut.tolist(), "quality": scores.quality().tolist(), "warmup": chunk.warmup}
        self.context.artifacts.put_bytes(key, orjson.dumps(document), "application/json")
        return Handled(
            [
                self.context.progress(task, "score", MARKER),
                next_task(task, {"scores": key}, time.perf_counter() - started),
            ]
        )
