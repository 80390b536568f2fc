"""The matte worker: frames + probabilities → alpha and the foreground colour corrections, stored as npz.

The chunk starts from a fresh state and settles it over its warm-up frames, so no seam shows at borders.
The foreground colour differs from the frame only on tiles with partial alpha; only those are stored.
"""

from __future__ import annotations

import time

import numpy as np
import orjson

from agents.matte import refine
from agents.pipeline import StageTaskHandler, chunk_key, next_task
from schemas import ChunkTask
from streams.worker import Handled

MARKER = "matte.npz"
TILE = 16


def fg_delta(frames: np.ndarray, fg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tiles where ``fg`` differs from ``frames``: (positions [N, 3] = t, row, col; pixels [N, 16, 16, 3])."""
    t, h, w = frames.shape[:3]
    rows, cols = h // TILE, w // TILE
    a = frames[:, : rows * TILE, : cols * TILE].reshape(t, rows, TILE, cols, TILE, 3)
    b = fg[:, : rows * TILE, : cols * TILE].reshape(t, rows, TILE, cols, TILE, 3)
    changed = (a != b).any(axis=(2, 4, 5))  # [T, rows, cols]
    where = np.argwhere(changed)
    pixels = (
        b[where[:, 0], where[:, 1], :, where[:, 2]] if len(where) else np.zeros((0, TILE, TILE, 3), np.uint8)
    )
    return where.astype(np.int32), np.ascontiguousarray(pixels)


def apply_fg_delta(frames: np.ndarray, where: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """The foreground colour: the frames with the stored tiles put back."""
    fg = frames.copy()
    t, h, w = fg.shape[:3]
    rows, cols = h // TILE, w // TILE
    view = fg[:, : rows * TILE, : cols * TILE].reshape(t, rows, TILE, cols, TILE, 3)
    if len(where):
        view[where[:, 0], where[:, 1], :, where[:, 2]] = pixels
    return fg


def foreground(frames: np.ndarray, stored: dict[str, np.ndarray]) -> np.ndarray:
    """The foreground colour of ``frames`` from what `MatteHandler` stored."""
    fg = apply_fg_delta(frames, stored["where"], stored["pixels"])
    h, w = fg.shape[1:3]
    fg[:, h // TILE * TILE :] = stored["bottom"]
    fg[:, :, w // TILE * TILE :] = stored["right"]
    return fg


class MatteHandler(StageTaskHandler):
    stage = "matte"

    def handle(self, task: ChunkTask) -> Handled:
        started = time.perf_counter()
        chunk = self.context.chunk_frames(task)
        probs = self.context.get_arrays(task.artifacts["probs"])["probs"].astype(np.float32)
        scores = orjson.loads(self.context.artifacts.get_bytes(task.artifacts["scores"]))
        cuts = np.array(scores["cut"], bool)
        alpha, fg, _ = refine(chunk.frames, probs, None, cuts)
        out = chunk.output
        # The ragged right/bottom strips (sizes not a multiple of 16) keep their corrected colour whole.
        where, pixels = fg_delta(chunk.frames[out], fg[out])
        h, w = fg.shape[1:3]
        key = chunk_key(task.job_id, "matte", task.chunk.index, MARKER)
        self.context.put_array(
            key,
            alpha=alpha[out],
            where=where,
            pixels=pixels,
            bottom=fg[out, h // TILE * TILE :],
            right=fg[out, :, w // TILE * TILE :],
        )
        return Handled(
            [
                self.context.progress(task, "matte", MARKER),
                next_task(task, "composite", {"matte": key}, time.perf_counter() - started),
            ]
        )
