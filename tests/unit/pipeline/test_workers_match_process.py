"""The chunk workers' own handlers give `process`'s alpha, frame for frame; redone, the same events.

The handlers run as the workers run them — extract plans the chunks, score stores its cuts, segment stores
float16 probabilities, matte reads both back and settles on the warm-up frames — over a local object store
instead of S3 (no server: what is compared is the data path, not the transport).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from agents.extract import plan_chunks
from agents.runner import ProcessOptions, process
from agents.workers.arrays import npz_arrays
from agents.workers.context import CHUNK_SECONDS, WARMUP_FRAMES, StageContext
from agents.workers.extract import ExtractHandler
from agents.workers.matte import MatteHandler
from agents.workers.score import ScoreHandler
from agents.workers.segment import SegmentHandler
from backdrop.sample import write_sample
from base.settings import Settings
from schemas import ChunkTask, JobOptions, ObjectRef, ObjectSource, SubmitJob, new_job_id
from schemas.background import Transparent
from streams.store import LocalStore, ObjectStore
from streams.worker import Handled
from tests.unit.runner.test_process import EllipseSegmenter


class LocalContext(StageContext):
    """Every bucket is the one local store."""

    def store_for(self, bucket: str) -> ObjectStore:
        return self.artifacts


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "sample.mp4"
    write_sample(path, seconds=5.5, width=160, height=96, fps=Fraction(24000, 1001))
    return path


@dataclass(frozen=True)
class Job:
    """A clip uploaded to a local store, the workers' context over it, and the job's submit event."""

    store: LocalStore
    context: LocalContext
    submit: SubmitJob


@pytest.fixture
def job(clip: Path, tmp_path: Path) -> Job:
    store = LocalStore(tmp_path / "store")
    store.put_file("uploads/sample.mp4", clip)
    (tmp_path / "cache").mkdir()
    source = ObjectSource(object=ObjectRef(bucket=Settings().uploads_bucket, key="uploads/sample.mp4"))
    submit = SubmitJob(event_type="submit", job_id=new_job_id(), source=source, options=JobOptions())
    return Job(store, LocalContext(Settings(), store, tmp_path / "cache"), submit)


def _tasks(handled: Handled) -> Iterator[ChunkTask]:
    return (out.event for out in handled.events if isinstance(out.event, ChunkTask))


def test_the_chunk_workers_give_process_alpha_exactly(clip: Path, job: Job, tmp_path: Path) -> None:
    frames_dir = tmp_path / "process"
    options = ProcessOptions(
        background=Transparent(), chunk_seconds=CHUNK_SECONDS, warmup_frames=WARMUP_FRAMES
    )
    process(clip, frames_dir / "frame_%06d.png", EllipseSegmenter, options)
    by_process = [
        cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., 3] for path in sorted(frames_dir.glob("*.png"))
    ]

    store, context, submit = job.store, job.context, job.submit
    stages = (
        ScoreHandler(context),
        SegmentHandler(context, ["selfie"], lambda _: EllipseSegmenter()),
        MatteHandler(context),
    )

    chunks = plan_chunks(clip, CHUNK_SECONDS, WARMUP_FRAMES)
    assert len(chunks) >= 2, "the clip must cross a chunk border"
    tasks = list(_tasks(ExtractHandler(context).handle(submit)))
    assert [task.chunk.index for task in tasks] == [chunk.index for chunk in chunks]
    for task, chunk in zip(tasks, chunks, strict=True):
        for handler in stages:
            (task,) = _tasks(handler.handle(task))
        alpha = npz_arrays(store.get_bytes(task.artifacts["matte"]))["alpha"]
        assert alpha.shape[0] == chunk.stop - chunk.start
        for offset, index in enumerate(range(chunk.start, chunk.stop)):
            np.testing.assert_array_equal(alpha[offset], by_process[index], err_msg=f"frame {index}")


def test_a_redo_publishes_the_same_events_under_the_same_ids(job: Job) -> None:
    """A worker killed after publishing but before committing redoes the message: consumers dedupe by
    event id, so every event must come out again as it was (README: "events carry deterministic ids")."""
    context, submit = job.context, job.submit
    extract = ExtractHandler(context)
    stages = (
        ScoreHandler(context),
        SegmentHandler(context, ["selfie"], lambda _: EllipseSegmenter()),
        MatteHandler(context),
    )

    def published(handled: Handled) -> list[tuple[str, str, str]]:
        return [(out.topic, out.key, str(getattr(out.event, "event_id", ""))) for out in handled.events]

    first, again = extract.handle(submit), extract.handle(submit)
    assert published(first) == published(again)
    task = next(_tasks(first))
    for handler in stages:
        first, again = handler.handle(task), handler.handle(task)
        assert published(first) == published(again), handler.stage
        (task,) = _tasks(first)
