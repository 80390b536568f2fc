"""What a job leaves behind: intermediates gone once it ends, only outputs and markers kept. Real broker,
store, stage workers and janitor. (Deleting a job and the retention rules: test_job_deletion.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from backdrop.sample import write_sample
from backdrop.submit import follow_from_now, wait_for
from base.settings import Settings
from infra.workers import start_workers
from schemas import JobCompleted, JobFailed, LifecycleEvent, SubmitJob, new_job_id
from streams.ownership import claim_key
from streams.retention import completion_key
from streams.s3_store import s3_store
from streams.stopped import stop_key
from streams.store import job_prefix
from streams.topics import JOBS
from tests.integration.pipeline_fixtures import OwnWorkers, begin_at_end, own_workers
from tests.integration.test_trust import _publish, _submit, _upload

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
GRACE_S = 5.0


@pytest.fixture(scope="module")
def workers(infra: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnWorkers]:
    """The stage workers and a janitor, each in a consumer group of its own."""
    with own_workers(infra, tmp_path_factory.mktemp("workers")) as own:
        begin_at_end(infra, own.group("janitor"), [JOBS.name])
        env = {**own.env, "BACKDROP_CLEANUP_GRACE_S": str(GRACE_S)}
        start_workers(own.settings, {}, ("janitor",), folder=own.folder, env=env)
        yield own


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("retention") / "clip.mp4"
    write_sample(path, seconds=3, width=160, height=96, fps=Fraction(24))
    return path


def _objects(settings: Settings, job_id: str) -> set[str]:
    return set(s3_store(settings).list(job_prefix(job_id)))


def _settles_to(settings: Settings, job_id: str, expected: set[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while (found := _objects(settings, job_id)) != expected:
        assert time.monotonic() < deadline, (
            f"left behind: {sorted(found - expected)}; missing: {expected - found}"
        )
        time.sleep(0.5)


def _run(settings: Settings, source: Path, timeout_s: float) -> tuple[SubmitJob, LifecycleEvent]:
    """Submit ``source`` straight to Kafka; the submit and the job's terminal event."""
    follower = follow_from_now(settings)
    try:
        job = _submit(new_job_id(), _upload(settings, source, ""), settings)
        _publish(settings, job)
        return job, wait_for(follower, job.job_id, timeout_s=timeout_s)
    finally:
        follower.close()


def test_a_finished_job_leaves_only_its_outputs(infra: Settings, workers: OwnWorkers, clip: Path) -> None:
    job, final = _run(infra, clip, timeout_s=300)
    assert isinstance(final, JobCompleted), final
    store = s3_store(infra)
    output = store.get_bytes(final.output_key)
    markers = {claim_key(job.job_id), stop_key(job.job_id)}
    assert len(final.cutout_keys) == len(final.hero_keys) > 0  # the heroes on the background and cut out
    outputs = {final.output_key, *final.hero_keys, *final.cutout_keys, completion_key(job.job_id)}
    if final.poster_key:
        outputs.add(final.poster_key)
    # Within the grace period the chunks' intermediates are still there ...
    assert _objects(infra, job.job_id) - outputs - markers, "nothing but outputs even before the grace period"
    # ... then only the outputs and the markers stay.
    _settles_to(infra, job.job_id, outputs | markers)
    assert store.get_bytes(final.output_key) == output
    assert store.get_bytes(stop_key(job.job_id)) == b"completed"


def test_a_failed_job_leaves_only_its_markers(infra: Settings, workers: OwnWorkers, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4000))
    job, final = _run(infra, broken, timeout_s=120)
    assert isinstance(final, JobFailed), final
    _settles_to(infra, job.job_id, {claim_key(job.job_id), stop_key(job.job_id)})
    assert s3_store(infra).get_bytes(stop_key(job.job_id)).startswith(b"failed: ")
