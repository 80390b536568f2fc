"""Deleting a job through the API, the storage it reports, and the buckets' retention rules. Real broker,
store, database, projector and API; no stage workers, which would take the made-up jobs here for theirs
(test_retention runs jobs through them)."""

from __future__ import annotations

import uuid

import httpx
import orjson
import pytest

from api.keys import NewKey
from base.settings import Settings
from infra.minio_server import s3_client
from schemas import JobCompleted, ObjectRef, ObjectSource, SubmitJob, new_job_id
from streams.codec import encode
from streams.follow import consumer_at_end
from streams.ownership import claim_key, owner_prefix
from streams.retention import completion_key
from streams.s3_store import s3_store
from streams.store import JOBS_PREFIX, job_prefix
from streams.topics import JOBS
from tests.integration.api_fixtures import (
    ApiProcess,
    Publisher,
    accepted,
    admitted,
    completed,
    logged_events,
    progress,
    values_keyed,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_delete_takes_the_jobs_objects_its_upload_and_its_records(
    api: ApiProcess, infra: Settings, key: NewKey
) -> None:
    artifacts, uploads = s3_store(infra), s3_store(infra, infra.uploads_bucket)
    job_id = new_job_id()
    upload = f"{owner_prefix(key.id)}submitted/{job_id}/talk.mp4"
    uploads.put_bytes(upload, b"u" * 10)
    done = completed(job_id)
    assert isinstance(done, JobCompleted)
    objects = {
        done.output_key: b"o" * 100,
        f"{job_prefix(job_id)}segment/00000/alpha": b"m" * 50,
        completion_key(job_id): encode(done),
        claim_key(job_id): b"{}",
    }
    for name, data in objects.items():
        artifacts.put_bytes(name, data)
    submit: SubmitJob = admitted(job_id, key.id).model_copy(
        update={"source": ObjectSource(object=ObjectRef(bucket=infra.uploads_bucket, key=upload))}
    )
    start = accepted(key.id, job_id).model_copy(update={"source": submit.source})
    publisher = Publisher(infra)
    publisher.publish(submit, start)
    public = consumer_at_end(infra, JOBS.name, f"t-{uuid.uuid4().hex}")
    try:
        with api.client(key.secret) as http:
            wait_until(
                lambda: http.get(f"/v1/jobs/{job_id}").status_code == 200, what="the job in the read model"
            )
            refused = http.delete(f"/v1/jobs/{job_id}")
            publisher.publish(done)
            wait_until(
                lambda: _status(http, job_id) == "completed",
                what="the job in the read model",
            )
            storage = http.get(f"/v1/jobs/{job_id}/storage").json()
            deleted = http.delete(f"/v1/jobs/{job_id}")
            after = http.get(f"/v1/jobs/{job_id}")
            again = http.delete(f"/v1/jobs/{job_id}")
        announced = [orjson.loads(value) for value in values_keyed(public, {job_id})]
    finally:
        public.close()

    assert refused.status_code == 409, refused.text
    assert "cancel it first" in refused.json()["detail"]
    total = sum(len(data) for data in objects.values())
    assert storage == {
        "job_id": job_id,
        "objects": 4,
        "bytes": total,
        "output_bytes": total - 50,
        "intermediate_bytes": 50,
        "upload_bytes": 10,
    }
    removed = total - len(objects[claim_key(job_id)]) + 10
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"job_id": job_id, "objects_deleted": 4, "bytes_deleted": removed}
    assert (after.status_code, again.status_code) == (404, 404)
    assert artifacts.list(job_prefix(job_id)) == [claim_key(job_id)]  # the id stays taken
    assert not uploads.exists(upload)
    (event,) = [e for e in announced if e["event_type"] == "deleted"]
    assert (event["objects_deleted"], event["bytes_deleted"]) == (4, removed)
    assert logged_events(infra, job_id) == 0

    # A late event of the deleted job brings nothing back: the projector drops it.
    marker = accepted(key.id)
    publisher.publish(progress(job_id, 2), marker)
    with api.client(key.secret) as http:
        wait_until(
            lambda: http.get(f"/v1/jobs/{marker.job_id}").status_code == 200, what="the job in the read model"
        )  # read past the late event
        assert http.get(f"/v1/jobs/{job_id}").status_code == 404
    assert logged_events(infra, job_id) == 0


def test_an_object_someone_else_owns_is_not_deleted_with_a_job(
    api: ApiProcess, infra: Settings, key: NewKey
) -> None:
    uploads = s3_store(infra, infra.uploads_bucket)
    job_id = new_job_id()
    shared = f"{owner_prefix(key.id)}library/talk.mp4"  # the key's own file, not made for this job
    uploads.put_bytes(shared, b"keep me")
    submit: SubmitJob = admitted(job_id, key.id).model_copy(
        update={"source": ObjectSource(object=ObjectRef(bucket=infra.uploads_bucket, key=shared))}
    )
    start = accepted(key.id, job_id).model_copy(update={"source": submit.source})
    Publisher(infra).publish(submit, start, completed(job_id))
    with api.client(key.secret) as http:
        wait_until(
            lambda: _status(http, job_id) == "completed",
            what="the job in the read model",
        )
        assert http.delete(f"/v1/jobs/{job_id}").status_code == 200
    assert uploads.get_bytes(shared) == b"keep me"


def test_outputs_and_uploads_expire_after_the_retention_period(infra: Settings) -> None:
    client = s3_client(infra)
    for bucket, prefix in ((infra.uploads_bucket, ""), (infra.artifacts_bucket, JOBS_PREFIX)):
        config = client.get_bucket_lifecycle(bucket)
        assert config is not None, bucket
        (rule,) = config.rules
        assert rule.status == "Enabled"
        assert rule.rule_filter is not None, bucket
        assert (rule.rule_filter.prefix or "") == prefix, bucket
        assert rule.expiration is not None, bucket
        assert rule.expiration.days == infra.retention_days, bucket


def _status(http: httpx.Client, job_id: str) -> str:
    answer = http.get(f"/v1/jobs/{job_id}")
    return (
        str(answer.json().get("status"))
        if answer.status_code == 200
        else f"{answer.status_code}: {answer.text}"
    )
