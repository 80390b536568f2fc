"""How far a job is, in words a person reads: percent, frames, speed and time left.

Each stage reports only its own count of finished chunks; the read model folds them into one figure.
The stages overlap (a chunk is matted while the next is segmented), so the weighted share of chunk-stage
work done grows about evenly with time, and the time left is the time so far scaled by what is left.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from schemas.common import Model
from schemas.graph import CHUNK_STAGES, ChunkStage

# Each chunk stage's rough share of a chunk's work, from `backdrop bench`'s per-stage seconds: decoding
# and scoring, the model, the matte, compositing with the encode, and the segment's check.
STAGE_WEIGHTS: dict[ChunkStage, float] = {
    "score": 1.0,
    "segment": 2.0,
    "matte": 3.0,
    "composite": 3.0,
    "encode": 0.5,
}
ALMOST_DONE = 99  # the most a job shows before its output is assembled and recorded


class JobProgress(Model):
    """The whole job's progress."""

    percent: int = Field(
        ge=0,
        le=100,
        description="Share of the work done: never goes back; 100 only once completed.",
        examples=[42],
    )
    frames_done: int = Field(ge=0, description="Frames encoded so far.", examples=[600])
    frames_total: int | None = Field(
        description="Frames in the job; null until it is accepted.", examples=[1440]
    )
    fps: float | None = Field(
        description="Frames encoded per second since the job was accepted.", examples=[24.5]
    )
    eta_s: float | None = Field(
        description="Seconds left, estimated from the pace so far; null until there is a pace to go by, "
        "and once the job has failed or been cancelled.",
        examples=[35.2],
    )


def job_progress(
    stages: Mapping[str, int],
    chunk_count: int | None,
    frame_count: int | None,
    elapsed_s: float | None,
    completed: bool = False,
) -> JobProgress:
    """``stages``: chunks each stage has finished; ``elapsed_s``: since the job was accepted."""
    if completed:
        return JobProgress(
            percent=100,
            frames_done=frame_count or 0,
            frames_total=frame_count,
            fps=_rate(frame_count, elapsed_s),
            eta_s=0.0,
        )
    if not chunk_count:
        return JobProgress(percent=0, frames_done=0, frames_total=frame_count, fps=None, eta_s=None)
    done = sum(STAGE_WEIGHTS[stage] * min(stages.get(stage, 0), chunk_count) for stage in CHUNK_STAGES)
    share = done / (sum(STAGE_WEIGHTS.values()) * chunk_count)
    frames = (frame_count or 0) * min(stages.get("encode", 0), chunk_count) // chunk_count
    return JobProgress(
        percent=min(ALMOST_DONE, int(share * 100)),
        frames_done=frames,
        frames_total=frame_count,
        fps=_rate(frames, elapsed_s),
        eta_s=_time_left(stages, chunk_count, share, elapsed_s),
    )


def _time_left(
    stages: Mapping[str, int], chunk_count: int, share: float, elapsed_s: float | None
) -> float | None:
    """The slowest stage's chunks left at its own pace so far: the job ends when its last stage does.

    The share of work done would say less: the first stages run ahead of the heavy ones (measured on 8
    chunks: 53% done after a third of the time). Until every stage has finished a chunk there is no pace
    for the slowest; the share stands in.
    """
    if elapsed_s is None or elapsed_s <= 0 or share <= 0:
        return None
    counts = [min(stages.get(stage, 0), chunk_count) for stage in CHUNK_STAGES]
    left = [(chunk_count - done) / done if done else None for done in counts if done < chunk_count]
    if None in left:
        return round(elapsed_s * (1 - share) / share, 1)
    return round(elapsed_s * max((x for x in left if x is not None), default=0.0), 1)


def _rate(frames: int | None, elapsed_s: float | None) -> float | None:
    if not frames or elapsed_s is None or elapsed_s <= 0:
        return None
    return round(frames / elapsed_s, 2)
