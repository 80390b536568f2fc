"""How far a job is, in words a person reads: percent, frames, speed and time left.

Each stage reports only its own count of finished chunks; the read model folds them into one figure.
The stages overlap (a chunk is matted while the next is segmented), so the weighted share of chunk-stage
work done grows about evenly with time; the time left follows each stage's own pace down the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

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


class StageClock(NamedTuple):
    """One stage's finished chunks, and when, in seconds since the job was accepted."""

    done: int
    first_s: float | None = None  # its first chunk
    last_s: float | None = None  # its latest count


def job_progress(
    stages: Mapping[str, StageClock],
    chunk_count: int | None,
    frame_count: int | None,
    elapsed_s: float | None,
    completed: bool = False,
) -> JobProgress:
    """``stages``: what each stage has finished and when; ``elapsed_s``: since the job was accepted."""
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
    counts = {stage: min(stages[stage].done, chunk_count) if stage in stages else 0 for stage in CHUNK_STAGES}
    done = sum(STAGE_WEIGHTS[stage] * counts[stage] for stage in CHUNK_STAGES)
    share = done / (sum(STAGE_WEIGHTS.values()) * chunk_count)
    frames = (frame_count or 0) * counts["encode"] // chunk_count
    return JobProgress(
        percent=min(ALMOST_DONE, int(share * 100)),
        frames_done=frames,
        frames_total=frame_count,
        fps=_rate(frames, elapsed_s),
        eta_s=_time_left(stages, chunk_count, share, elapsed_s),
    )


def _time_left(
    stages: Mapping[str, StageClock], chunk_count: int, share: float, elapsed_s: float | None
) -> float | None:
    """When the last stage will finish the last chunk, projected down the pipeline, less the time so far.

    A stage's pace is measured from its own first chunk: the wait for the stages before it to fill the
    pipeline is not its pace (measured from acceptance, an 8-chunk job's ETA ran 3-4x long). A stage
    cannot end before the stage that feeds it, plus the lag between their first chunks. Until every
    stage has finished a chunk the share of work done stands in.
    """
    if elapsed_s is None or elapsed_s <= 0 or share <= 0:
        return None
    end = _projected_end(stages, chunk_count)
    if end is None:
        return round(elapsed_s * (1 - share) / share, 1)
    return round(max(0.0, end - elapsed_s), 1)


def _projected_end(stages: Mapping[str, StageClock], chunk_count: int) -> float | None:
    """Seconds after acceptance at which the last stage finishes, or None without a figure for each."""
    fed_until = fed_from = None  # the stage before: projected end, first chunk
    for stage in CHUNK_STAGES:
        clock = stages.get(stage)
        if clock is None or clock.done < 1 or clock.first_s is None or clock.last_s is None:
            return None
        done = min(clock.done, chunk_count)
        ends = []
        if done > 1:
            ends.append(clock.last_s + (chunk_count - done) * (clock.last_s - clock.first_s) / (done - 1))
        elif fed_until is None:  # the first stage's first chunk: its pace since acceptance
            ends.append(clock.first_s * chunk_count)
        if fed_until is not None and fed_from is not None:
            ends.append(fed_until + max(0.0, clock.first_s - fed_from))
        if done == chunk_count:
            ends = [clock.last_s]
        fed_until, fed_from = max(ends), clock.first_s
    return fed_until


def _rate(frames: int | None, elapsed_s: float | None) -> float | None:
    if not frames or elapsed_s is None or elapsed_s <= 0:
        return None
    return round(frames / elapsed_s, 2)
