"""The matte worker: frames + probabilities → alpha and the foreground colour corrections, stored as npz.

The chunk starts from a fresh state and settles it over its warm-up frames, so no seam shows at borders.
Only the partial-alpha pixels' foreground colour is stored (see `agents.matte.handoff`).
"""

from __future__ import annotations

import time

import numpy as np
import orjson

from agents.matte import MATTE_PRESETS, reduced, refine, settle
from agents.matte.handoff import partial_colours
from agents.workers.context import StageTaskHandler, chunk_key, next_task
from schemas import ChunkTask
from streams.worker import Handled

MARKER = "matte.npz"


class MatteHandler(StageTaskHandler[ChunkTask]):
    stage = "matte"
    expects = ChunkTask

    def handle(self, task: ChunkTask) -> Handled:
        started = time.perf_counter()
        chunk = self.context.chunk_frames(task)
        probs = self.context.get_arrays(task.artifacts["probs"])["probs"].astype(np.float32)
        scores = orjson.loads(self.context.artifacts.get_bytes(task.artifacts["scores"]))
        cuts = np.array(scores["cut"], bool)
        params = MATTE_PRESETS[task.options.quality]
        # The warm-up frames only settle the state: their alpha and foreground are nobody's output.
        warm = slice(0, chunk.warmup)
        state = None
        if chunk.warmup:
            state = settle(reduced(chunk.frames[warm], params), probs[warm], None, cuts[warm], params)
        out = chunk.output
        alpha, fg, _ = refine(chunk.frames[out], probs[out], state, cuts[out], params)
        key = chunk_key(task.job_id, "matte", task.chunk.index, MARKER)
        # LZ4: as small as deflate on the alpha planes at a fifth of the CPU both ways (see .arrays).
        self.context.put_array(
            key, fast=("alpha", "colours"), alpha=alpha, colours=partial_colours(alpha, fg)
        )
        return Handled(
            [
                self.context.progress(task, "matte", MARKER),
                next_task(task, {"matte": key}, time.perf_counter() - started),
            ]
        )
