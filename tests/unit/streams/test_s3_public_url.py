from __future__ import annotations

from base.settings import Settings
from streams.s3_store import s3_store


def test_presigned_urls_name_the_public_host_when_one_is_set() -> None:
    public = s3_store(Settings(s3_public_url="https://s3.example.com")).url("jobs/job_12345678/output.mp4")
    internal = s3_store(Settings()).url("jobs/job_12345678/output.mp4")
    assert public.startswith("https://s3.example.com/backdrop-artifacts/jobs/job_12345678/output.mp4?")
    assert internal.startswith("http://127.0.0.1:19000/")
    assert "X-Amz-Signature=" in public
