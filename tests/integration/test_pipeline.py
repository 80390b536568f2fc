"""The event-driven pipeline end to end: real Kafka and MinIO, one OS process per stage worker."""

from __future__ import annotations

import io
import time
import urllib.request
import uuid
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import orjson
import pytest
from confluent_kafka import Consumer, Producer
from prometheus_client.parser import text_string_to_metric_families

from agents.extract import iter_frames, probe
from agents.runner import ProcessOptions, process
from agents.workers.context import SEGMENT_STAGE, segment_name, stage_prefix
from agents.workers.extract import job_id_for_object
from backdrop.sample import write_sample
from backdrop.submit import follow_from_now, submit, wait_for
from base.settings import Settings
from infra.minio_server import s3_client
from schemas import PIPELINE, JobCompleted, JobFailed, JobOptions
from schemas.background import Blur
from streams.delivery import read_dead_letter
from streams.follow import consumer_at_end
from streams.headers import normalize
from streams.s3_store import s3_store
from streams.topics import DEAD_LETTER_UPLOADS, UPLOADS
from tests.integration.pipeline_fixtures import OwnWorkers, own_workers

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def workers(infra: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnWorkers]:
    with own_workers(infra, tmp_path_factory.mktemp("workers")) as own:
        yield own


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pipeline") / "clip.mp4"
    write_sample(path, seconds=5, width=320, height=180, fps=Fraction(24000, 1001))
    return path


def _frames(path: Path) -> np.ndarray:
    return np.concatenate([batch.frames for batch in iter_frames(path)]).astype(np.float64)


def test_submit_gives_the_same_video_as_process(
    infra: Settings, workers: OwnWorkers, clip: Path, tmp_path: Path
) -> None:
    from agents.segment.backends import load_segmenter

    follower = follow_from_now(infra)
    try:
        event = submit(infra, clip, JobOptions(background="blur"))
        final = wait_for(follower, event.job_id, timeout_s=300)
    finally:
        follower.close()
    assert isinstance(final, JobCompleted), final
    out = tmp_path / "pipeline.mp4"
    s3_store(infra).get_file(final.output_key, out)
    reference = tmp_path / "process.mp4"
    process(
        clip,
        reference,
        lambda: load_segmenter(cache_dir=infra.cache_dir, threads=1),
        ProcessOptions(background=Blur()),
    )
    source, result = probe(clip), probe(out)
    assert result.frame_count == source.frame_count
    assert result.fps == Fraction(24000, 1001)
    assert source.audio is not None
    assert result.audio is not None
    assert result.audio.duration_s == pytest.approx(source.audio.duration_s, abs=0.03)
    a, b = _frames(out), _frames(reference)
    psnr = 10 * np.log10(255**2 / np.mean((a - b) ** 2))
    assert psnr > 35, f"pipeline and process differ more than two encodes should: {psnr:.1f} dB"
    assert final.hero_keys
    assert final.poster_key is not None
    # Every stage's worker counted its part, on the /metrics it announced for discovery.
    for stage in PIPELINE:
        handled = _scraped(workers, stage)[("backdrop_messages_total", "handled")]
        assert handled >= 1, f"{stage}: {handled}"


def _scraped(workers: OwnWorkers, stage: str) -> dict[tuple[str, str], float]:
    pid = workers.pids()[f"worker-{stage}-0"]
    entry = workers.settings.metrics_dir / f"{stage}-{pid}.json"
    (target,) = orjson.loads(entry.read_bytes())[0]["targets"]
    with urllib.request.urlopen(f"http://{target}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {
        (sample.name, sample.labels.get("outcome", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("stage") == stage and not sample.labels.get("code")
    }


def test_bad_input_fails_its_own_job_and_nothing_else(
    infra: Settings, workers: OwnWorkers, clip: Path, tmp_path: Path
) -> None:
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(clip.read_bytes()[:4000])  # the header and a few packets of a real upload
    before = workers.pids()
    assert len(before) == len(PIPELINE), before
    dlq = consumer_at_end(infra, DEAD_LETTER_UPLOADS.name, f"t-{uuid.uuid4().hex}")
    follower = follow_from_now(infra)
    try:
        good = submit(infra, clip, JobOptions(background="#2040a0"))
        bad = submit(infra, corrupt, JobOptions())
        poison = b'{"event_type": "submit", "job_id": "not a valid id!"}'
        producer = Producer({**infra.kafka_config})
        producer.produce(UPLOADS.name, value=poison, key=b"poison")
        assert producer.flush(10) == 0
        failed = wait_for(follower, bad.job_id, timeout_s=120)
        completed = wait_for(follower, good.job_id, timeout_s=300)
    finally:
        follower.close()
    assert isinstance(failed, JobFailed)
    assert failed.code in {"input_corrupt", "input_unsupported"}
    assert failed.stage == "extract"
    assert isinstance(completed, JobCompleted)
    dead = _read_until(dlq, lambda value: value == poison)
    assert dead is not None
    letter = read_dead_letter(dead)
    assert (letter.error_code, letter.stage, letter.source_topic) == (
        "poison_message",
        "extract",
        UPLOADS.name,
    )
    assert workers.pids() == before, "a worker exited"


def test_an_upload_to_the_bucket_starts_a_job(infra: Settings, workers: OwnWorkers, clip: Path) -> None:
    follower = follow_from_now(infra)
    try:
        key = f"incoming/{uuid.uuid4().hex}.mp4"
        data = clip.read_bytes()
        put = s3_client(infra).put_object(infra.uploads_bucket, key, io.BytesIO(data), len(data))
        job_id = job_id_for_object(infra.uploads_bucket, key, put.etag or "")
        final = wait_for(follower, job_id, timeout_s=300)
    finally:
        follower.close()
    assert isinstance(final, JobCompleted), final
    assert final.metrics.frames == probe(clip).frame_count


def _read_until(consumer: Consumer, wanted: object, timeout_s: float = 60) -> list[tuple[str, bytes]] | None:
    """The headers of the first message whose value ``wanted`` accepts."""
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error() and wanted(message.value()):  # type: ignore[operator]
                return normalize(message.headers())
    finally:
        consumer.close()
    return None


def test_a_cancelled_job_ends_and_its_remaining_chunks_are_skipped(
    infra: Settings, workers: OwnWorkers, tmp_path: Path
) -> None:
    from schemas import JobCancelled
    from streams.admin import admin_client
    from streams.codec import encode
    from streams.lag import group_lag
    from streams.stopped import stop_key
    from streams.topics import JOBS, stage_topic
    from streams.worker import event_id

    clip = tmp_path / "long.mp4"
    write_sample(clip, seconds=12, width=320, height=180, fps=Fraction(24))
    artifacts = s3_store(infra)
    producer = Producer({**infra.kafka_config})
    seen: list[str] = []

    def cancel_once_accepted(event: object) -> None:
        seen.append(getattr(event, "event_type", ""))
        if seen[-1] == "accepted":
            # What POST /v1/jobs/{id}/cancel does: flag it for the workers, announce the end.
            job_id = getattr(event, "job_id", "")
            artifacts.put_bytes(stop_key(job_id), b"test")
            cancelled = JobCancelled(
                event_type="cancelled", event_id=event_id(job_id, "cancelled"), job_id=job_id, reason="test"
            )
            producer.produce(JOBS.name, value=encode(cancelled), key=job_id.encode())
            producer.flush(10)

    follower = follow_from_now(infra)
    try:
        event = submit(infra, clip, JobOptions(background="white"))
        final = wait_for(follower, event.job_id, timeout_s=120, on_event=cancel_once_accepted)
    finally:
        follower.close()
    assert final.event_type == "cancelled"
    # Let every stage drain what it was given, then check that nothing finished the job.
    admin = admin_client(infra)
    stages = PIPELINE[1:]  # every stage after extract, which accepted the job before the cancel
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        lag = sum(group_lag(admin, workers.group(s), [stage_topic(s).name]) for s in stages)
        if lag == 0:
            break
        time.sleep(0.5)
    assert lag == 0
    assert not s3_store(infra).exists(f"jobs/{event.job_id}/assemble/output.mp4")
    # Each chunk's finished segment is stored by the stage that encodes it: count those.
    segments = [
        key
        for key in s3_store(infra).list(stage_prefix(event.job_id, SEGMENT_STAGE))
        if key.endswith("/" + segment_name("mp4"))
    ]
    assert len(segments) < 6, "every chunk was encoded: the cancellation was not honoured"
