"""The main job as `make run` runs it: upload over HTTP, the event-driven pipeline, the job's SSE stream to
its end, the result fetched through its presigned URL — and that result against `process`, chunk by chunk,
on a flat colour, where a wrong alpha anywhere shows (a blur would hide it).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from confluent_kafka import Consumer

from agents.extract import plan_chunks, probe
from agents.runner import ProcessOptions, process
from agents.segment.backends import load_segmenter
from agents.workers.context import CHUNK_SECONDS, WARMUP_FRAMES
from backdrop.api_client import api_client, download_output, follow, upload
from backdrop.sample import write_sample
from base.settings import Settings
from schemas import PIPELINE, ChunkDone, JobCompleted, JobOptions, LifecycleEvent, parse_background
from streams.follow import consumer_at_end
from streams.topics import ALL_TOPICS, JOBS, stage_topic
from tests.integration.api_fixtures import ApiProcess, new_api_key
from tests.integration.pipeline_fixtures import own_workers, psnr, read_video

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)
BACKGROUND = "#20c040"
# Two encodes of the same frames (one stream, or segments joined) differ by quantisation only: measured
# 39.6–43.1 dB per chunk. An alpha 16 px off along the person's edge costs ~10% of a frame's pixels at
# ~150 levels each, about 14 dB.
MIN_CHUNK_PSNR_DB = 36.0


@pytest.fixture(scope="module")
def workers(infra: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with own_workers(infra, tmp_path_factory.mktemp("workers")):
        yield infra


def test_upload_follow_and_download_match_process(workers: Settings, api: ApiProcess, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    write_sample(clip, seconds=6, width=320, height=180, fps=Fraction(30000, 1001))
    key = new_api_key(workers, "main-path")
    events: list[LifecycleEvent] = []
    out = tmp_path / "pipeline.mp4"
    every_topic = consumer_at_end(workers, [spec.name for spec in ALL_TOPICS])
    try:
        with api_client(api.base_url, key.secret) as client:
            job = upload(client, clip, JobOptions(background=BACKGROUND))
            final = follow(client, job["id"], events.append, timeout_s=300)
            assert isinstance(final, JobCompleted), final
            download_output(client, job["id"], out)  # the presigned URL the API lists
        _assert_no_pixels_in_kafka(every_topic, job["id"])
    finally:
        every_topic.close()
    kinds = [event.event_type for event in events]
    assert kinds[0] == "accepted", kinds
    assert kinds[-1] == "completed", kinds
    chunks = plan_chunks(clip, CHUNK_SECONDS, WARMUP_FRAMES)
    done = [event for event in events if isinstance(event, ChunkDone)]
    assert sorted(event.chunks_done for event in done) == list(range(1, len(chunks) + 1))

    reference = tmp_path / "process.mp4"
    process(
        clip,
        reference,
        lambda: load_segmenter(cache_dir=workers.cache_dir, threads=1),
        ProcessOptions(background=parse_background(BACKGROUND)),
    )
    source, result = probe(clip), probe(out)
    assert (result.frame_count, result.fps) == (source.frame_count, source.fps)
    ours, theirs = read_video(out), read_video(reference)
    assert list(ours.pts) == list(theirs.pts)
    per_chunk = []
    for chunk in chunks:
        frames = slice(chunk.start, chunk.stop)
        per_chunk.append(psnr(ours.frames[frames], theirs.frames[frames]))
    log.info("pipeline vs process per chunk: %s dB", ", ".join(f"{db:.1f}" for db in per_chunk))
    worst = int(np.argmin(per_chunk))
    assert per_chunk[worst] >= MIN_CHUNK_PSNR_DB, (
        f"chunk {worst} differs from process: {per_chunk[worst]:.1f} dB"
    )


# The largest event of a job: a chunk task with every artifact key and metric is ~2 kB; one 320×180 frame
# is 170 kB raw, and a stored probability map several kB even compressed.
MAX_EVENT_BYTES = 8 * 1024


def _assert_no_pixels_in_kafka(consumer: Consumer, job_id: str) -> None:
    """ "Pixels travel through object storage, never through Kafka": every event of the job is small."""
    sizes: dict[str, int] = {}
    while (message := consumer.poll(2.0)) is not None:  # drained: nothing more for 2 s
        if message.error() or not (message.key() or b"").decode().startswith(job_id):
            continue
        topic = message.topic() or ""
        sizes[topic] = max(sizes.get(topic, 0), len(message.value() or b""))
        if topic == stage_topic("assemble").name:  # one job's tasks meet on one partition
            assert message.key() == job_id.encode(), message.key()
    expected = {JOBS.name, *(stage_topic(stage).name for stage in PIPELINE[1:])}
    assert expected <= set(sizes), f"topics seen: {sizes}"
    assert max(sizes.values()) < MAX_EVENT_BYTES, sizes


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "backdrop", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert result.returncode == 0, f"backdrop {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr
    return result


def test_the_make_run_commands(workers: Settings, api: ApiProcess, tmp_path: Path) -> None:
    """Makefile's `run` target, command for command: a key from `keys create`'s last line, then
    `submit --api --wait -o` with it; and `submit --wait -o` straight to Kafka."""
    clip = tmp_path / "sample.mp4"
    _cli("sample", str(clip), "--seconds", "3", "--size", "320x180")
    secret = _cli("keys", "create", "demo").stdout.strip().splitlines()[-1]
    env = {**os.environ, "BACKDROP_API_URL": api.base_url, "BACKDROP_API_KEY": secret}
    over_http, over_kafka = tmp_path / "blurred.mp4", tmp_path / "coloured.mp4"
    _cli("submit", str(clip), "--api", "--background", "blur", "--wait", "-o", str(over_http), env=env)
    _cli("submit", str(clip), "--background", "#2050a0", "--wait", "-o", str(over_kafka))
    source = probe(clip)
    for out in (over_http, over_kafka):
        made = probe(out)
        assert (made.frame_count, made.fps, made.width, made.height) == (
            source.frame_count,
            source.fps,
            source.width,
            source.height,
        ), out.name
