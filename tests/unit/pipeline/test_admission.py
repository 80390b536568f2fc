"""The extract stage's gate, written as the attacks it stops: a job id claimed once, objects read only
from the submitter's own prefix, no secrets passed on to the public topic."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.workers.context import StageContext
from agents.workers.extract import ADMITTED, Admission, ExtractHandler
from base.errors import ObjectRefused
from base.settings import Settings
from schemas import JobOptions, ObjectRef, ObjectSource, SubmitJob, UrlSource, new_job_id, public_source
from streams.codec import encode
from streams.errors import Refused
from streams.ownership import check_references, claim_key, owner_prefix
from streams.signing import sign_submit, submit_secret
from streams.store import LocalStore

UPLOADS = Settings().uploads_bucket
SECRET_ROOT = Settings().signing_secret.get_secret_value()


def _submit(job_id: str, key: str, owner: str | None = None, **more: object) -> SubmitJob:
    return SubmitJob.model_validate(
        {
            "event_type": "submit",
            "job_id": job_id,
            "source": {"object": {"bucket": UPLOADS, "key": key}},
            "owner": owner,
            **more,
        }
    )


@pytest.fixture
def gate(tmp_path: Path) -> ExtractHandler:
    store = LocalStore(tmp_path / "store")
    return ExtractHandler(StageContext(Settings(), store, tmp_path))


def test_a_job_id_is_claimed_once(gate: ExtractHandler) -> None:
    job_id = new_job_id()
    first = _submit(job_id, "incoming/mine.mp4")
    (admitted,) = gate.admit(Admission(first)).events
    assert (admitted.topic, admitted.key) == (ADMITTED, job_id)
    # The same submit again (a redelivery, a retried publish: new event id and time) passes again.
    later = first.model_copy(update={"occurred_at": first.occurred_at.replace(year=2030)})
    (again,) = gate.admit(Admission(later)).events
    assert (again.topic, again.key) == (admitted.topic, admitted.key)
    assert getattr(again.event, "event_id", 1) == getattr(admitted.event, "event_id", 2)
    # The attack: the same id with another source, a webhook, or an owner, to rerun or take the job.
    claimed = gate.context.artifacts.get_bytes(claim_key(job_id))
    for forged in (
        _submit(job_id, "incoming/theirs.mp4"),
        _submit(job_id, "incoming/mine.mp4", webhook_url="https://attacker.example/hook"),
        _submit(job_id, f"{owner_prefix('key_attacker')}a.mp4", owner="key_attacker"),
    ):
        body = encode(forged)
        proof = sign_submit(submit_secret(SECRET_ROOT, "key_attacker"), job_id, body) if forged.owner else []
        with pytest.raises(Refused, match="already taken"):
            gate.admit(Admission(forged, body, proof))
    assert gate.context.artifacts.get_bytes(claim_key(job_id)) == claimed


def test_an_owner_must_be_proven_by_its_keys_signature(gate: ExtractHandler) -> None:
    # The attack: key ids are not secret, so a publisher named a victim's key as owner to place jobs in
    # its account (and receive webhooks signed with the victim's secret).
    root = gate.context.settings.signing_secret.get_secret_value()
    submit = _submit(new_job_id(), f"{owner_prefix('key_victim')}submitted/a.mp4", owner="key_victim")
    body = encode(submit)
    for headers, why in (
        ([], "headers missing"),
        (sign_submit(submit_secret(root, "key_attacker"), submit.job_id, body), "does not match"),
    ):
        with pytest.raises(Refused, match=why):
            gate.admit(Admission(submit, body, headers))
    assert not gate.context.artifacts.exists(claim_key(submit.job_id)), "a refused submit claims nothing"
    # Signed with the victim key's own submit secret: admitted, and the owner goes with it.
    proof = sign_submit(submit_secret(root, "key_victim"), submit.job_id, body)
    (admitted,) = gate.admit(Admission(submit, body, proof)).events
    assert isinstance(admitted.event, SubmitJob)
    assert admitted.event.owner == "key_victim"


def test_objects_come_only_from_the_owners_own_prefix() -> None:
    mine, theirs = owner_prefix("key_mine"), owner_prefix("key_theirs")
    options = JobOptions()
    check_references("key_mine", _source(UPLOADS, f"{mine}submitted/a.mp4"), options, UPLOADS)
    check_references(None, _source(UPLOADS, "incoming/a.mp4"), options, UPLOADS)
    refused = [
        ("key_mine", _source(UPLOADS, f"{theirs}submitted/a.mp4"), options),  # another key's upload
        ("key_mine", _source(UPLOADS, "incoming/a.mp4"), options),  # outside any owner's prefix
        (None, _source(UPLOADS, f"{theirs}submitted/a.mp4"), options),  # an ownerless job, a key's upload
        ("key_mine", _source("backdrop-artifacts", f"{mine}a.mp4"), options),  # another bucket
        (  # a background from another key's uploads
            "key_mine",
            _source(UPLOADS, f"{mine}a.mp4"),
            JobOptions.model_validate({"background": f"s3://{UPLOADS}/{theirs}beach.jpg"}),
        ),
        (  # a background from the artifacts bucket: another job's output
            None,
            _source(UPLOADS, "incoming/a.mp4"),
            JobOptions.model_validate(
                {"background": "s3://backdrop-artifacts/jobs/job_x/assemble/output.mp4"}
            ),
        ),
    ]
    for owner, source, opts in refused:
        with pytest.raises(ObjectRefused):
            check_references(owner, source, opts, UPLOADS)


def test_extraction_refuses_another_owners_upload(gate: ExtractHandler) -> None:
    submit = _submit(new_job_id(), f"{owner_prefix('key_victim')}submitted/private.mp4", owner="key_attacker")
    with pytest.raises(ObjectRefused, match="not under this key's prefix"):
        gate.extract(submit)


def test_a_url_source_loses_its_secrets_before_it_is_made_public() -> None:
    signed = UrlSource.model_validate(
        {"url": "https://user:pw@media.example.com:8443/clips/talk.mp4?X-Amz-Signature=abc#t=3"}
    )
    shown = public_source(signed)
    assert isinstance(shown, UrlSource)
    assert str(shown.url) == "https://media.example.com:8443/clips/talk.mp4"
    stored = ObjectSource(object=ObjectRef(bucket=UPLOADS, key="incoming/a.mp4"))
    assert public_source(stored) == stored


def _source(bucket: str, key: str) -> ObjectSource:
    return ObjectSource(object=ObjectRef(bucket=bucket, key=key))


def test_a_chunk_fits_its_memory_budget() -> None:
    # The attack: chunks were two seconds whatever the picture, so a 4K60 chunk needed ~4.7 GB of RGB in
    # a worker whose pod allows 2 GiB: an upload that kills every worker that takes it.
    from fractions import Fraction

    from agents.workers.context import CHUNK_SECONDS, WARMUP_FRAMES, chunk_seconds

    budget = 2**30
    assert chunk_seconds(1280, 720, Fraction(30), budget) == CHUNK_SECONDS
    for width, height, fps in ((3840, 2160, Fraction(60)), (4096, 4096, Fraction(240)), (1920, 1080, 240)):
        seconds = chunk_seconds(width, height, Fraction(fps), budget)
        frames = max(1, round(seconds * float(fps)))  # as plan_chunks counts them
        assert (frames + WARMUP_FRAMES) * width * height * 3 <= budget, (width, height, fps)
