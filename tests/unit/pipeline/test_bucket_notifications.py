"""Bucket notifications → submit events: which uploads start a job, under which id (README: "objects
outside `submitted/` start a job with default options")."""

from __future__ import annotations

import orjson
import pytest

from agents.workers.extract import job_id_for_object, submit_from_notification
from schemas import JobOptions, ObjectSource
from streams.errors import PoisonMessage


def _notification(key: str, event: str = "s3:ObjectCreated:Put") -> bytes:
    record = {
        "eventName": event,
        "s3": {"bucket": {"name": "backdrop-uploads"}, "object": {"key": key, "eTag": "abc123"}},
    }
    return orjson.dumps({"Records": [record]})


def test_an_upload_starts_a_job_with_default_options_under_an_id_of_the_object() -> None:
    submit = submit_from_notification(_notification("incoming/talk+2024.mp4"))
    assert submit is not None
    assert isinstance(submit.source, ObjectSource)
    assert submit.source.object.key == "incoming/talk 2024.mp4"  # keys arrive URL-encoded
    assert submit.options == JobOptions()
    assert submit.job_id == job_id_for_object("backdrop-uploads", "incoming/talk 2024.mp4", "abc123")
    again = submit_from_notification(_notification("incoming/talk+2024.mp4"))
    assert again is not None
    assert (again.job_id, again.event_id) == (submit.job_id, submit.event_id)  # a redelivery is one job


def test_objects_under_submitted_start_nothing() -> None:
    # `backdrop submit` uploads there and publishes its own submit event, with the user's options.
    assert submit_from_notification(_notification("submitted/job_aaaaaaaaaaaaaaaaaaaaaa/clip.mp4")) is None


def test_only_created_objects_count() -> None:
    assert submit_from_notification(_notification("incoming/a.mp4", "s3:ObjectRemoved:Delete")) is None


def test_a_presigned_upload_keeps_the_job_id_the_api_announced() -> None:
    key = "owners/key_0a1b2c3d4e5f/presigned/job_4vJ9kQ2mXcR7tP1sLwE8aZ/clip.mp4"
    submit = submit_from_notification(_notification(key))
    assert submit is not None
    assert submit.job_id == "job_4vJ9kQ2mXcR7tP1sLwE8aZ"


def test_an_api_keys_own_uploads_start_no_job_of_their_own() -> None:
    # The API's multipart uploads start their jobs themselves; anything else under an owner's prefix
    # is not a presigned upload and starts nothing.
    for key in (
        "owners/key_0a1b2c3d4e5f/submitted/job_4vJ9kQ2mXcR7tP1sLwE8aZ/clip.mp4",
        "owners/key_0a1b2c3d4e5f/clip.mp4",
        "owners/key_0a1b2c3d4e5f/presigned/bad!id/clip.mp4",
    ):
        assert submit_from_notification(_notification(key)) is None, key


def test_a_notification_naming_an_impossible_bucket_is_a_poison_message() -> None:
    # The attack: capitals in the bucket name made decode raise pydantic's ValidationError, which the
    # worker loop did not catch; the extract worker exited, and its successor met the same message.
    forged = _notification("incoming/a.mp4").replace(b"backdrop-uploads", b"Backdrop-Uploads")
    with pytest.raises(PoisonMessage):
        submit_from_notification(forged)


def test_anything_else_is_a_poison_message() -> None:
    with pytest.raises(PoisonMessage):
        submit_from_notification(b'{"not": "a notification"}')
