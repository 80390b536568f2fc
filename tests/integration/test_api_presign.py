"""A presigned upload: PUT to the URL the API gave, and the bucket notification starts that very job."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer

from agents.workers.context import StageContext
from agents.workers.extract import ExtractHandler, submit_from_notification
from api.keys import NewKey
from backdrop.sample import write_sample
from base.settings import Settings
from schemas import JobAccepted, ObjectSource, SubmitJob
from streams.follow import consumer_at_end
from streams.topics import STORAGE_EVENTS
from tests.integration.api_fixtures import ApiProcess

pytestmark = pytest.mark.integration


def notification_for(consumer: Consumer, key: str, timeout: float = 30) -> SubmitJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None or message.error() is not None:
            continue
        submit = submit_from_notification(message.value())
        if submit is not None and isinstance(submit.source, ObjectSource) and submit.source.object.key == key:
            return submit
    raise AssertionError(f"no bucket notification for {key} within {timeout:.0f} s")


def test_presigned_upload_starts_the_announced_job(
    api: ApiProcess, infra: Settings, key: NewKey, tmp_path: Path
) -> None:
    video = tmp_path / "talk.mp4"
    write_sample(video, seconds=1, width=160, height=96, fps=Fraction(24))
    with api.client(key.secret) as http:
        answer = http.post(
            "/v1/uploads/presign", json={"filename": "talk.mp4", "background": "#112233", "heroes": 2}
        ).json()
    job_id = answer["job"]["id"]
    consumer = consumer_at_end(infra.kafka_bootstrap, STORAGE_EVENTS.name, group="test-presign")
    try:
        put = httpx.put(answer["upload_url"], content=video.read_bytes(), timeout=30)
        assert put.status_code == 200, put.text
        submit = notification_for(consumer, f"presigned/{job_id}/talk.mp4")
    finally:
        consumer.close()
    assert submit.job_id == job_id
    context = StageContext.open(infra)
    try:
        handled = ExtractHandler(context).handle(submit)
    finally:
        context.close()
    accepted = handled.events[0].event
    assert isinstance(accepted, JobAccepted)
    assert accepted.job_id == job_id
    assert accepted.owner == key.id
    assert accepted.options.background.spec == "#112233"
    assert accepted.options.heroes == 2
