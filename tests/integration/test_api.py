"""The HTTP API on real PostgreSQL, Redis, Kafka and S3: keys, submit, read, cancel, uploads, health."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from api.keys import NewKey
from base.settings import Settings
from streams.follow import consumer_at_end
from streams.ownership import owner_prefix
from streams.s3_store import s3_store
from streams.topics import UPLOADS
from tests.integration.api_fixtures import (
    RECEIVER_HOST,
    ApiProcess,
    Publisher,
    accepted,
    completed,
    example,
    new_api_key,
    progress,
    start_api,
    values_keyed,
    wait_until,
)

pytestmark = pytest.mark.integration


def uploaded(settings: Settings, owner: str) -> str:
    """A small object in the uploads bucket among ``owner``'s uploads, where notifications start no job."""
    key = f"{owner_prefix(owner)}submitted/tests/{uuid.uuid4().hex}.mp4"
    s3_store(settings, settings.uploads_bucket).put_bytes(key, b"not really a video")
    return key


def test_health_ready_metrics_and_docs(api: ApiProcess) -> None:
    with api.client() as http:
        assert http.get("/healthz").json() == {"status": "ok", "checks": {}}
        ready = http.get("/readyz").json()
        assert ready["status"] == "ok", ready
        assert set(ready["checks"]) == {"postgres", "redis", "kafka", "live_events"}
        http.get("/v1/jobs")
        metrics = http.get("/metrics").text
        assert "http_requests_total" in metrics
        assert "backdrop_sse_subscribers" in metrics
        assert http.get("/docs").status_code == 200
        spec = http.get("/openapi.json").json()
    assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/events", "/v1/uploads"} <= set(spec["paths"])


def test_a_key_is_needed(api: ApiProcess) -> None:
    with api.client() as http:
        missing = http.get("/v1/jobs")
        wrong = http.get("/v1/jobs", headers={"Authorization": "Bearer bd_nope"})
    assert missing.status_code == wrong.status_code == 401
    assert "backdrop keys create" in missing.json()["detail"]
    assert missing.headers["WWW-Authenticate"] == "Bearer"


def test_submit_read_and_list(api: ApiProcess, infra: Settings, key: NewKey) -> None:
    object_key = uploaded(infra, key.id)
    with api.client(key.secret) as http:
        created = http.post("/v1/jobs", json={"source": {"object_key": object_key}, "background": "#00FF00"})
        assert created.status_code == 202, created.text
        job = created.json()
        assert job["status"] == "queued"
        assert job["source"] == {"object": {"bucket": infra.uploads_bucket, "key": object_key}}
        assert job["options"]["background"] == "#00FF00"
        assert http.get(job["links"]["self"]).json()["id"] == job["id"]
        listed = http.get("/v1/jobs").json()
    assert [item["id"] for item in listed["items"]] == [job["id"]]


def test_another_keys_job_is_not_found(
    api: ApiProcess, infra: Settings, key: NewKey, other_key: NewKey
) -> None:
    with api.client(key.secret) as mine:
        job = mine.post("/v1/jobs", json={"source": {"object_key": uploaded(infra, key.id)}}).json()
    with api.client(other_key.secret) as theirs:
        assert theirs.get(f"/v1/jobs/{job['id']}").status_code == 404
        assert theirs.post(f"/v1/jobs/{job['id']}/cancel").status_code == 404
        assert theirs.get(f"/v1/jobs/{job['id']}/events").status_code == 404
        assert theirs.get("/v1/jobs").json()["items"] == []


def test_idempotency_key(api: ApiProcess, infra: Settings, key: NewKey) -> None:
    body = {"source": {"object_key": uploaded(infra, key.id)}, "background": "blur"}
    headers = {"Idempotency-Key": f"crm-{uuid.uuid4().hex}"}
    with api.client(key.secret) as http:
        first = http.post("/v1/jobs", json=body, headers=headers)
        again = http.post("/v1/jobs", json=dict(reversed(body.items())), headers=headers)
        other = http.post("/v1/jobs", json={**body, "background": "white"}, headers=headers)
        fresh = http.post("/v1/jobs", json=body)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 422
    assert "different request" in other.json()["detail"]
    assert fresh.json()["id"] != first.json()["id"]


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("source", "https://127.0.0.1/video.mp4"),
        ("source", "https://10.1.2.3/video.mp4"),
        ("source", "https://169.254.169.254/latest/meta-data/"),
        ("source", "https://[::1]/video.mp4"),
        ("source", "https://localhost/video.mp4"),
        ("webhook", "http://127.0.0.1:8080/hook"),
        ("webhook", "http://192.168.1.1/hook"),
    ],
)
def test_private_addresses_are_refused(
    api: ApiProcess, infra: Settings, key: NewKey, field: str, url: str
) -> None:
    body: dict[str, object] = (
        {"source": {"url": url}}
        if field == "source"
        else {"source": {"object_key": uploaded(infra, key.id)}, "webhook_url": url}
    )
    with api.client(key.secret) as http:
        answer = http.post("/v1/jobs", json=body)
        assert answer.status_code == 422, answer.text
        assert http.get("/v1/jobs").json()["items"] == []  # nothing was recorded


def test_http_sources_are_refused(api: ApiProcess, key: NewKey) -> None:
    with api.client(key.secret) as http:
        answer = http.post("/v1/jobs", json={"source": {"url": "http://media.example.com/a.mp4"}})
    assert answer.status_code == 422


def test_an_allowed_webhook_address_is_taken(api: ApiProcess, infra: Settings, key: NewKey) -> None:
    body = {
        "source": {"object_key": uploaded(infra, key.id)},
        "webhook_url": f"http://{RECEIVER_HOST}:9/hook",
    }
    with api.client(key.secret) as http:
        assert http.post("/v1/jobs", json=body).status_code == 202


def test_a_missing_object_is_a_clear_422(api: ApiProcess, key: NewKey) -> None:
    with api.client(key.secret) as http:
        missing = f"{owner_prefix(key.id)}no/such/object.mp4"
        answer = http.post("/v1/jobs", json={"source": {"object_key": missing}})
    assert answer.status_code == 422
    assert "upload it first" in answer.json()["detail"]


def test_another_keys_upload_or_output_cannot_be_used(
    api: ApiProcess, infra: Settings, key: NewKey, other_key: NewKey
) -> None:
    # The attack: key B started a job from key A's upload by naming its object key, and composited A's
    # output into its own job as an s3:// background. Both completed.
    theirs = uploaded(infra, key.id)
    output = f"s3://{infra.artifacts_bucket}/jobs/job_aaaaaaaaaaaaaaaaaaaaaa/assemble/output.mp4"
    mine = uploaded(infra, other_key.id)
    with api.client(other_key.secret) as http:
        as_source = http.post("/v1/jobs", json={"source": {"object_key": theirs}})
        as_background = http.post(
            "/v1/jobs",
            json={"source": {"object_key": mine}, "background": f"s3://{infra.uploads_bucket}/{theirs}"},
        )
        from_artifacts = http.post("/v1/jobs", json={"source": {"object_key": mine}, "background": output})
        recorded = http.get("/v1/jobs").json()["items"]
    for answer in (as_source, as_background, from_artifacts):
        assert answer.status_code == 422, answer.text
    assert "prefix" in as_source.json()["detail"]
    assert "bucket" in from_artifacts.json()["detail"]
    assert recorded == []


def test_rate_limit_per_key(api: ApiProcess, infra: Settings, key: NewKey) -> None:
    limited = new_api_key(infra, "limited", rate_limit=3)
    with api.client(limited.secret) as http:
        answers = [http.get("/v1/jobs") for _ in range(4)]
    with api.client(key.secret) as http:
        assert http.get("/v1/jobs").status_code == 200  # another key has its own budget
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60


def test_upload_starts_a_job(api: ApiProcess, infra: Settings, key: NewKey) -> None:
    with api.client(key.secret) as http:
        answer = http.post(
            "/v1/uploads",
            files={"file": ("clip.mp4", b"\x00" * 5000, "video/mp4")},
            data={"background": "white", "heroes": "0"},
        )
    assert answer.status_code == 202, answer.text
    job = answer.json()
    stored = job["source"]["object"]["key"]
    assert stored.startswith(f"{owner_prefix(key.id)}submitted/{job['id']}/")
    assert stored.endswith("clip.mp4")
    assert s3_store(infra, infra.uploads_bucket).size(stored) == 5000
    assert job["options"]["background"] == "white"


def test_upload_over_the_limit_is_413(api: ApiProcess, key: NewKey) -> None:
    with api.client(key.secret) as http:
        answer = http.post("/v1/uploads", files={"file": ("big.mp4", b"\x00" * 1_200_000, "video/mp4")})
    assert answer.status_code == 413


def test_upload_with_a_bad_option_is_422(api: ApiProcess, key: NewKey) -> None:
    with api.client(key.secret) as http:
        answer = http.post(
            "/v1/uploads", files={"file": ("a.mp4", b"\x00" * 10, "video/mp4")}, data={"background": "plaid"}
        )
    assert answer.status_code == 422
    assert "unknown background" in answer.text


def test_presign_gives_a_put_url(api: ApiProcess, key: NewKey) -> None:
    with api.client(key.secret) as http:
        answer = http.post("/v1/uploads/presign", json={"filename": "talk.mp4", "background": "blur"})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["method"] == "PUT"
    assert "X-Amz-Signature=" in body["upload_url"]
    assert body["job"]["status"] == "queued"
    assert f"presigned/{body['job']['id']}/talk.mp4" in body["upload_url"]


def test_cancel(api: ApiProcess, infra: Settings, key: NewKey) -> None:
    publisher = Publisher(infra)
    start = accepted(key.id)
    publisher.publish(start)
    with api.client(key.secret) as http:
        wait_until(lambda: http.get(f"/v1/jobs/{start.job_id}").status_code == 200, what="the job's row")
        wait_until(lambda: http.get(f"/v1/jobs/{start.job_id}").json()["status"] == "running", what="running")
        assert http.post(f"/v1/jobs/{start.job_id}/cancel").status_code == 202
        wait_until(
            lambda: http.get(f"/v1/jobs/{start.job_id}").json()["status"] == "cancelled", what="cancelled"
        )
        job = http.get(f"/v1/jobs/{start.job_id}").json()
        again = http.post(f"/v1/jobs/{start.job_id}/cancel")
    assert job["error"]["code"] == "cancelled"
    assert again.status_code == 409
    from redis import Redis

    from streams.stopped import StoppedJobs

    # The attack on a cancel kept only in Redis: Redis restarts (it runs without persistence), the flag is
    # gone, and the workers carry on with the job. The cancel must outlive every server's restart.
    Redis.from_url(infra.redis_url).flushall()
    assert StoppedJobs.open(infra)(start.job_id)


def test_list_pages_with_a_cursor(api: ApiProcess, infra: Settings, key: NewKey) -> None:
    publisher = Publisher(infra)
    events = [accepted(key.id) for _ in range(5)]
    publisher.publish(*events)
    with api.client(key.secret) as http:
        wait_until(
            lambda: len(http.get("/v1/jobs", params={"limit": 100}).json()["items"]) == 5, what="5 jobs"
        )
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = http.get("/v1/jobs", params=params).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad = http.get("/v1/jobs", params={"cursor": "garbage!"})
    assert sorted(seen) == sorted(e.job_id for e in events)
    assert len(seen) == 5
    assert bad.status_code == 422


def test_a_completed_jobs_stages_are_all_done_in_pipeline_order(
    api: ApiProcess, infra: Settings, key: NewKey
) -> None:
    start = accepted(key.id, chunks=2)
    job_id = start.job_id
    Publisher(infra).publish(
        start,
        *(progress(job_id, done, total=2, stage=stage) for stage in ("matte", "segment") for done in (1, 2)),
        example("chunk-done", job_id=job_id, chunk=0, chunks_done=1, chunks_total=2),
        progress(job_id, 1, total=2, stage="assemble"),  # assemble reports the chunks it waits for
        example("chunk-done", job_id=job_id, chunk=1, chunks_done=2, chunks_total=2),
        completed(job_id),
    )
    with api.client(key.secret) as http:
        wait_until(
            lambda: http.get(f"/v1/jobs/{job_id}").json().get("status") == "completed", what="completed"
        )
        stages = http.get(f"/v1/jobs/{job_id}").json()["progress"]["stages"]
    assert list(stages) == ["segment", "matte", "encode", "assemble"]
    assert all(stage == {"chunks_done": 2, "chunks_total": 2} for stage in stages.values())


def test_the_list_filters_by_status_and_a_read_has_its_timings(
    api: ApiProcess, infra: Settings, other_key: NewKey
) -> None:
    # README: `GET /v1/jobs` lists with `?status=`; a read has "status, per-stage progress, timings, …".
    running, done = accepted(other_key.id), accepted(other_key.id)
    Publisher(infra).publish(running, done, completed(done.job_id))
    with api.client(other_key.secret) as http:
        wait_until(
            lambda: http.get(f"/v1/jobs/{done.job_id}").json().get("status") == "completed", what="completed"
        )
        finished = http.get("/v1/jobs", params={"status": "completed"}).json()["items"]
        ongoing = http.get("/v1/jobs", params={"status": "running"}).json()["items"]
        timings = http.get(f"/v1/jobs/{done.job_id}").json()["timings"]
    assert [item["id"] for item in finished] == [done.job_id]
    assert running.job_id in [item["id"] for item in ongoing]
    assert done.job_id not in [item["id"] for item in ongoing]
    assert timings["accepted_at"] is not None
    assert timings["finished_at"] is not None
    assert timings["accepted_at"] <= timings["finished_at"]


def test_redis_away_is_a_503_to_retry_not_a_500(api: ApiProcess, infra: Settings, key: NewKey) -> None:
    # Rate limits live in Redis: with it down, every request answered 500 Internal Server Error.
    from infra.redis_server import RedisServer

    redis = RedisServer(infra)
    redis.stop()
    try:
        with api.client(key.secret) as http:
            answer = http.get("/v1/jobs")
    finally:
        redis.up()
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == "1"
    assert "Redis" in answer.json()["detail"]
    with api.client(key.secret) as http:
        wait_until(lambda: http.get("/v1/jobs").status_code == 200, what="the API with Redis back")


def test_requests_without_a_valid_key_are_limited_per_address(
    infra: Settings, key: NewKey, api_logs: Path
) -> None:
    # The attack: guessing keys, or just load, costs nothing when requests without a valid key are free.
    capped = start_api(infra, api_logs, BACKDROP_UNAUTHENTICATED_PER_MINUTE="3")
    try:
        with capped.client("bd_not_a_key") as http:
            answers = [http.get("/v1/jobs").status_code for _ in range(4)]
            limited = http.get("/v1/jobs")
        with capped.client(key.secret) as http:
            assert http.get("/v1/jobs").status_code == 200  # a valid key is limited by its own budget
    finally:
        capped.stop()
    assert 429 in answers, answers  # within the 4 (earlier 401s this minute from 127.0.0.1 count too)
    assert set(answers) <= {401, 429}
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1


def test_concurrent_repeats_of_one_idempotency_key_publish_once(
    api: ApiProcess, infra: Settings, key: NewKey
) -> None:
    # The attack (or a client's eager retries): requests with one Idempotency-Key at the same moment each
    # found the job queued and each published its submit again.
    from concurrent.futures import ThreadPoolExecutor

    body = {"source": {"object_key": uploaded(infra, key.id)}, "background": "blur"}
    headers = {"Idempotency-Key": f"burst-{uuid.uuid4().hex}"}
    submits = consumer_at_end(infra, UPLOADS.name, f"t-{uuid.uuid4().hex}")
    try:
        with api.client(key.secret) as http, ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: http.post("/v1/jobs", json=body, headers=headers), range(8)))
        job_ids = {answer.json()["id"] for answer in answers}
        published = values_keyed(submits, job_ids, settle_s=3.0)
    finally:
        submits.close()
    assert [answer.status_code for answer in answers] == [202] * 8
    assert len(job_ids) == 1
    assert len(published) == 1, f"{len(published)} submits published for one job"


def test_an_upload_is_refused_before_its_body_is_read(api: ApiProcess) -> None:
    # The attack: FastAPI reads (and spools to disk) a whole multipart body before it looks at the key,
    # so anyone could make the API take in 2 GiB per request without a key.
    import socket
    import urllib.parse

    address = urllib.parse.urlsplit(api.base_url)
    head = (
        "POST /v1/uploads HTTP/1.1\r\n"
        f"Host: {address.netloc}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        "Content-Length: 900000\r\n\r\n"
        '--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
    )
    with socket.create_connection((address.hostname, address.port), timeout=5) as conn:
        conn.sendall(head.encode() + b"\0" * 1000)  # then nothing: the rest of the body never comes
        answer = conn.recv(4096)  # a server waiting for the body to read the form times out here
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
