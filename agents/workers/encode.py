"""The encode worker: checks a chunk's segment, announces the chunk done and hands it to assemble.

The composite worker encodes the segment and its best still itself (a lossless hand-off between the two
cost more CPU than the final encode; see `agents.workers.composite`). What stays here is cheap: reading
the segment's header to catch a short or unreadable one before assemble joins it, and the events.
"""

from __future__ import annotations

import time

from agents.encode.archive import archive_frames
from agents.extract import probe
from agents.workers.context import SEGMENT_STAGE, StageTaskHandler, segment_name, stage_prefix
from base.errors import OutputError
from schemas import AssembleTask, ChunkDone, ChunkTask, next_stage
from streams.topics import JOBS, stage_topic
from streams.worker import Handled, Outgoing, event_id


class EncodeHandler(StageTaskHandler[ChunkTask]):
    stage = "encode"
    expects = ChunkTask

    def handle(self, task: ChunkTask) -> Handled:
        started = time.perf_counter()
        segment_key = task.artifacts["segment"]
        marker = segment_name(task.options, task.media)
        local = self.context.cache_dir / f"{task.job_id}-{task.chunk.index}-{marker}"
        try:
            self.context.artifacts.get_file(segment_key, local)
            if task.options.output_format == "png" and not task.media.is_image:
                counted, exact = len(archive_frames(local)), True
            else:
                info = probe(local)
                counted, exact = info.frame_count, info.frame_count_exact
        finally:
            local.unlink(missing_ok=True)
        frames = task.chunk.stop - task.chunk.start
        if exact and counted != frames:
            # Not the upload's fault: retried, then dead-lettered for an operator, and the job fails.
            raise OutputError(
                f"chunk {task.chunk.index} of {task.job_id} was encoded with {counted} frames, "
                f"not {frames}; the composite stage must redo it"
            )
        seconds = time.perf_counter() - started
        done = sum(
            1
            for k in self.context.artifacts.list(stage_prefix(task.job_id, SEGMENT_STAGE))
            if k.endswith("/" + marker)
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
            artifacts=task.artifacts,
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
                Outgoing(stage_topic(next_stage(task.stage)).name, task.job_id, assemble),
            ]
        )
