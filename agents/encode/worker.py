"""The encode worker: a finished chunk → its H.264 segment and its best still, then hand it to assemble."""

from __future__ import annotations

import time

import numpy as np
import orjson

from agents.encode import VideoWriter
from agents.encode.images import write_image
from agents.encode.intermediate import read_intermediate
from agents.pipeline import StageTaskHandler, chunk_key, rate, stage_prefix
from schemas import AssembleTask, ChunkDone, ChunkTask
from streams.topics import JOBS, stage_topic
from streams.worker import Handled, Outgoing, event_id

MARKER = "segment.mp4"


class EncodeHandler(StageTaskHandler):
    stage = "encode"

    def handle(self, task: ChunkTask) -> Handled:
        started = time.perf_counter()
        work = self.context.cache_dir
        intermediate = work / f"{task.job_id}-{task.chunk.index}-in.nut"
        segment = work / f"{task.job_id}-{task.chunk.index}-{MARKER}"
        hero = work / f"{task.job_id}-{task.chunk.index}-hero.png"
        self.context.artifacts.get_file(task.artifacts["composite"], intermediate)
        scores = orjson.loads(self.context.artifacts.get_bytes(task.artifacts["scores"]))
        quality = np.array(scores["quality"][scores["warmup"] :], np.float32)
        best = int(quality.argmax()) if len(quality) else 0
        fps, time_base = rate(task.media)
        try:
            with VideoWriter(
                segment, task.media.width, task.media.height, time_base=time_base, fps=fps
            ) as writer:
                for position, (frame, pts) in enumerate(
                    read_intermediate(intermediate, task.media.width, task.media.height, time_base)
                ):
                    writer.write(frame[None], np.array([pts], np.int64))
                    if position == best:
                        write_image(hero, frame)
            segment_key = chunk_key(task.job_id, "encode", task.chunk.index, MARKER)
            hero_key = chunk_key(task.job_id, "encode", task.chunk.index, "hero.png")
            self.context.artifacts.put_file(hero_key, hero)
            facts = {
                "quality": float(quality[best]) if len(quality) else 0.0,
                "frame": task.chunk.start + best,
            }
            self.context.artifacts.put_bytes(
                chunk_key(task.job_id, "encode", task.chunk.index, "hero.json"), orjson.dumps(facts)
            )
            self.context.artifacts.put_file(segment_key, segment)
        finally:
            for path in (intermediate, segment, hero):
                path.unlink(missing_ok=True)
        seconds = time.perf_counter() - started
        done = sum(
            1 for k in self.context.artifacts.list(stage_prefix(task.job_id, "encode")) if k.endswith(MARKER)
        )
        assemble = AssembleTask(
            event_type="assemble_task",
            event_id=event_id(task.job_id, "assemble", task.chunk.index),
            job_id=task.job_id,
            occurred_at=task.occurred_at,  # the job's start, kept since extract: assemble times the job
            chunk=task.chunk,
            segment_key=segment_key,
            media=task.media,
            options=task.options,
            artifacts={**task.artifacts, "hero": hero_key},
            metrics={**task.metrics, "encode_s": round(seconds, 4)},
        )
        chunk_done = ChunkDone(
            event_type="chunk_done",
            event_id=event_id(task.job_id, "chunk_done", task.chunk.index),
            job_id=task.job_id,
            chunk=task.chunk.index,
            chunks_done=min(max(done, 1), task.chunk.count),
            chunks_total=task.chunk.count,
        )
        # Keyed by job: one assemble worker sees all of a job's segments, in order.
        return Handled(
            [
                Outgoing(JOBS.name, task.job_id, chunk_done),
                Outgoing(stage_topic("assemble").name, task.job_id, assemble),
            ]
        )
