"""Trust boundaries end to end, each test written as the attack it stops: real broker, store, database,
stage workers, projector and API. (Attacks that need no workers are in test_api, test_projector and the
unit tests of the gate.)"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from api.keys import NewKey
from backdrop.sample import write_sample
from backdrop.submit import follow_from_now, wait_for
from base.settings import Settings
from schemas import JobCompleted, JobFailed, SubmitJob, new_job_id
from streams.codec import encode
from streams.consumer_loop import producer_config, wire
from streams.delivery import DeadLetter, read_dead_letter
from streams.follow import consumer_at_end
from streams.headers import Headers, normalize
from streams.ownership import owner_prefix
from streams.s3_store import s3_store
from streams.signing import sign_submit, submit_secret
from streams.topics import DEAD_LETTER_UPLOADS, JOBS, UPLOADS
from tests.integration.api_fixtures import ApiProcess, values_keyed
from tests.integration.pipeline_fixtures import OwnWorkers, own_workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def workers(infra: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnWorkers]:
    with own_workers(infra, tmp_path_factory.mktemp("workers")) as own:
        yield own


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trust") / "clip.mp4"
    write_sample(path, seconds=2, width=160, height=96, fps=Fraction(24))
    return path


def _upload(settings: Settings, clip: Path, prefix: str) -> str:
    key = f"{prefix}submitted/{uuid.uuid4().hex}/{clip.name}"  # submitted/: the upload starts no job itself
    s3_store(settings, settings.uploads_bucket).put_file(key, clip)
    return key


def _submit(job_id: str, key: str, settings: Settings, **more: object) -> SubmitJob:
    return SubmitJob.model_validate(
        {
            "event_type": "submit",
            "job_id": job_id,
            "source": {"object": {"bucket": settings.uploads_bucket, "key": key}},
            **more,
        }
    )


def _publish(settings: Settings, submit: SubmitJob, headers: Headers | None = None) -> bytes:
    body = encode(submit)
    producer = Producer(producer_config(settings))
    producer.produce(UPLOADS.name, value=body, key=submit.job_id.encode(), headers=wire(headers or []))
    assert producer.flush(10) == 0
    return body


def _dead_letter(consumer: Consumer, body: bytes, timeout_s: float = 60) -> DeadLetter:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error() and message.value() == body:
            return read_dead_letter(normalize(message.headers()))
    raise AssertionError(f"no dead letter for {body[:80]!r} within {timeout_s:.0f} s")


def test_owners_are_proven_and_job_ids_claimed_once(
    infra: Settings, workers: OwnWorkers, api: ApiProcess, key: NewKey, other_key: NewKey, clip: Path
) -> None:
    # Attack 1: key ids are not secret, so a publisher named a victim's key as the owner of its submit and
    # the job landed in the victim's account, with a webhook the victim's secret would sign.
    mine = _upload(infra, clip, owner_prefix(key.id))
    hook = "https://hooks.example.com/backdrop?token=s3cr3t"
    forged = _submit(new_job_id(), mine, infra, owner=key.id, webhook_url=hook)
    wrong_secret = submit_secret(infra.signing_secret.get_secret_value(), other_key.id)
    letters = consumer_at_end(infra, DEAD_LETTER_UPLOADS.name, f"t-{uuid.uuid4().hex}")
    public = consumer_at_end(infra, JOBS.name, f"t-{uuid.uuid4().hex}")
    follower = follow_from_now(infra)
    try:
        unsigned = _publish(infra, forged)
        other = forged.model_copy(update={"job_id": new_job_id()})
        badly_signed = _publish(infra, other, sign_submit(wrong_secret, other.job_id, encode(other)))
        refusals = [_dead_letter(letters, body) for body in (unsigned, badly_signed)]

        # Signed with the key's own submit secret, the same submit is the key's job.
        real = forged.model_copy(update={"job_id": new_job_id()})
        secret = submit_secret(infra.signing_secret.get_secret_value(), key.id)
        _publish(infra, real, sign_submit(secret, real.job_id, encode(real)))
        final = wait_for(follower, real.job_id, timeout_s=300)
        assert isinstance(final, JobCompleted), final
        output = s3_store(infra).get_bytes(final.output_key)

        # Attack 2: a submit reusing a job id reran that job and overwrote its objects: here with another
        # source and no owner, to take the finished job over.
        theirs = _upload(infra, clip, "incoming/")
        replay = _publish(
            infra, _submit(real.job_id, theirs, infra, webhook_url="https://attacker.example/x")
        )
        refusals.append(_dead_letter(letters, replay))
        raw_public = values_keyed(public, {real.job_id})
    finally:
        letters.close()
        follower.close()
        public.close()

    for letter in refusals:
        assert (letter.error_code, letter.stage) == ("refused", "extract"), letter
    assert "headers missing" in refusals[0].error_message
    assert "does not match" in refusals[1].error_message
    assert "already taken" in refusals[2].error_message
    with api.client(key.secret) as http:
        assert http.get(f"/v1/jobs/{forged.job_id}").status_code == 404
        assert http.get(f"/v1/jobs/{other.job_id}").status_code == 404
        deadline = time.monotonic() + 30  # the read model follows backdrop.jobs a moment behind
        while (job := http.get(f"/v1/jobs/{real.job_id}").json())["status"] != "completed":
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
    with api.client(other_key.secret) as http:
        assert http.get(f"/v1/jobs/{real.job_id}").status_code == 404
    assert job["source"]["object"]["key"] == mine
    time.sleep(3)  # had the replay been let through, its extract would have started by now
    assert s3_store(infra).get_bytes(final.output_key) == output

    # Public topic hygiene: backdrop.jobs is readable by anyone, so no webhook URL, no query string.
    assert raw_public, "no events of the job on backdrop.jobs"
    assert all(b"s3cr3t" not in value and b"hooks.example.com" not in value for value in raw_public)
    # The refused replay failed no job: the id it named is the real job's, which stays completed.
    assert not [value for value in raw_public if b'"event_type":"failed"' in value], raw_public


def test_a_submit_cannot_read_another_owners_upload(
    infra: Settings, workers: OwnWorkers, key: NewKey, clip: Path
) -> None:
    # The attack: a Kafka submit (no owner needed) naming the object key of a key's private upload.
    private = _upload(infra, clip, owner_prefix(key.id))
    follower = follow_from_now(infra)
    try:
        job = _submit(new_job_id(), private, infra)
        _publish(infra, job)
        final = wait_for(follower, job.job_id, timeout_s=120)
    finally:
        follower.close()
    assert isinstance(final, JobFailed), final
    assert final.code == "input_object_refused"
    assert "belongs to an API key" in final.message
