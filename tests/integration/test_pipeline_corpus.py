"""The bad-input corpus (tests/corpus.py) through the event-driven pipeline, beside a good job.

Every case is uploaded and submitted as a user would (`backdrop.submit`), all at once, after one good
clip. Each bad job must end with the code `process` gives the same file (the case's codes), in bounded
time; the good job completes; no worker process exits or is replaced, and no stage is left with a
backlog. A case that `process` may finish (fuzzed bytes that still decode) must finish here too, with
every frame its packets hold (a readable still gives a still).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from pydantic import ValidationError

from agents.extract import plan_chunks, probe
from backdrop.submit import follow_from_now, submit
from base.settings import Settings
from schemas import (
    LIFECYCLE_ADAPTER,
    PIPELINE,
    TERMINAL_TYPES,
    JobCompleted,
    JobFailed,
    JobOptions,
    LifecycleEvent,
    ObjectRef,
    ObjectSource,
    SubmitJob,
    new_job_id,
)
from streams.admin import admin_client
from streams.codec import encode
from streams.consumer_loop import producer_config
from streams.lag import group_lag
from streams.s3_store import s3_store
from streams.store import SUBMITTED_PREFIX
from streams.topics import UPLOADS, stage_inputs
from tests import clips
from tests.corpus import BadInput, bad_inputs
from tests.integration.pipeline_fixtures import OwnWorkers, own_workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
log = logging.getLogger(__name__)

# The whole corpus, one extract worker: measured ~40 s on 2 cores (most cases fail at the probe).
CORPUS_TIMEOUT_S = 600.0


@pytest.fixture(scope="module")
def workers(infra: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnWorkers]:
    with own_workers(infra, tmp_path_factory.mktemp("workers")) as own:
        yield own


@dataclass(frozen=True)
class Ended:
    event: LifecycleEvent
    after_s: float  # since the first job was submitted


def _follow(consumer: Consumer, job_ids: set[str], started: float, timeout_s: float) -> dict[str, Ended]:
    """The terminal event of each of ``job_ids``, as they arrive, until all have one or time runs out."""
    ended = dict[str, Ended]()
    while len(ended) < len(job_ids) and time.monotonic() - started < timeout_s:
        message = consumer.poll(0.5)
        if message is None or message.error():
            continue
        job_id = (message.key() or b"").decode()
        if job_id not in job_ids or job_id in ended:
            continue
        try:
            event = LIFECYCLE_ADAPTER.validate_json(message.value() or b"")
        except ValidationError:
            continue
        if event.event_type in TERMINAL_TYPES:
            ended[job_id] = Ended(event, time.monotonic() - started)
    return ended


MISSING_OBJECT = BadInput(
    "missing-object",
    Path("missing.mp4"),
    frozenset({"input_not_found"}),
    may_succeed=False,
    frames=None,
    output_name="out.mp4",
    why="a submit event naming an object that is not in the bucket",
)


def _submit_missing_object(settings: Settings) -> str:
    job_id = new_job_id()
    ref = ObjectRef(bucket=settings.uploads_bucket, key=f"{SUBMITTED_PREFIX}{job_id}/missing.mp4")
    event = SubmitJob(
        event_type="submit", job_id=job_id, source=ObjectSource(object=ref), options=JobOptions()
    )
    producer = Producer(producer_config(settings))
    producer.produce(UPLOADS.name, value=encode(event), key=job_id.encode())
    assert producer.flush(10) == 0
    return job_id


def test_every_bad_input_fails_its_own_job_and_a_good_one_beside_them_completes(
    infra: Settings, workers: OwnWorkers, tmp_path: Path
) -> None:
    # A path that is no file (missing, a folder, a dangling link) cannot be uploaded: `backdrop.submit`
    # refuses it. Its pipeline analogue, a submit event naming an object that is not there, is added.
    cases = [case for case in bad_inputs(tmp_path) if case.path.is_file()]
    assert len([case for case in cases if not case.may_succeed]) >= 50
    # The good job is a phone clip, stored 160×120 and shown turned a quarter: 120×160 on screen.
    good = clips.make_clip(
        tmp_path / "good.mp4", width=160, height=120, frames=60, audio="aac", rotation=90
    ).path
    before = workers.pids()
    assert len(before) == len(PIPELINE), before

    follower = follow_from_now(infra)
    try:
        started = time.monotonic()
        jobs: dict[str, BadInput | None] = {submit(infra, good, JobOptions()).job_id: None}
        for case in cases:
            jobs[submit(infra, case.path, JobOptions()).job_id] = case
        jobs[_submit_missing_object(infra)] = MISSING_OBJECT
        ended = _follow(follower, set(jobs), started, CORPUS_TIMEOUT_S)
    finally:
        follower.close()

    wrong = []
    for job_id, submitted in jobs.items():
        name = "the good job" if submitted is None else submitted.name
        if job_id not in ended:
            wrong.append(f"{name}: no end within {CORPUS_TIMEOUT_S:.0f} s")
            continue
        final = ended[job_id].event
        if submitted is None:
            if isinstance(final, JobCompleted):
                s3_store(infra).get_file(final.output_key, tmp_path / "good.out.mp4")
                made = probe(tmp_path / "good.out.mp4")
                if (made.width, made.height, made.frame_count) != (120, 160, 60):
                    wrong.append(f"the good job made {made.width}×{made.height}, {made.frame_count} frames")
            else:
                wrong.append(f"the good job ended {final.model_dump_json()}")
            continue
        case = submitted
        codes, may_complete = case.codes, case.may_succeed
        if isinstance(final, JobFailed):
            if final.code not in codes:
                wrong.append(f"{name} ({case.why}): {final.code} at {final.stage}: {final.message}")
        elif isinstance(final, JobCompleted) and may_complete:
            held = plan_chunks(probe(case.path))[-1].stop
            out = tmp_path / f"{name}.out{Path(final.output_key).suffix}"  # a still gives a still
            s3_store(infra).get_file(final.output_key, out)
            if not probe(out).frame_count == final.metrics.frames == held:
                wrong.append(f"{name}: {probe(out).frame_count} frames out, {held} in the source's packets")
        else:
            wrong.append(f"{name} ({case.why}) ended {final.event_type}, expected a code in {sorted(codes)}")
    assert not wrong, "\n".join(wrong)

    slowest = max(ended.values(), key=lambda e: e.after_s)
    log.info(f"{len(jobs)} jobs submitted and ended in {slowest.after_s:.1f} s")
    assert workers.pids() == before, "a worker exited or was replaced"
    _assert_drained(workers)


def _assert_drained(workers: OwnWorkers, timeout_s: float = 60) -> None:
    """No stage is left with messages it has not committed: none stalled on a bad input."""
    admin = admin_client(workers.settings)
    deadline, lag = time.monotonic() + timeout_s, {}
    while time.monotonic() < deadline:
        lag = {
            stage: group_lag(admin, workers.group(stage), [spec.name for spec in stage_inputs(stage)])
            for stage in PIPELINE
        }
        if not any(lag.values()):
            return
        time.sleep(0.5)
    raise AssertionError(f"stages left with a backlog: {lag}")
