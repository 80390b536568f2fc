"""A downstream Faust app: copy each finished job's output to an archive bucket (the README's example).

ARCHIVE_BUCKET=my-archive python -m tests.integration.faust_archive_app worker -l info
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator

from minio import Minio
from minio.commonconfig import CopySource
from minio.error import S3Error

from base.settings import Settings
from schemas import JobCompleted, LifecycleEvent
from streams.faust_jobs import faust_app, jobs_topic

log = logging.getLogger("archive")
settings = Settings()
app = faust_app(
    os.environ.get("ARCHIVE_APP", "archive-outputs"),
    settings,
    consumer_auto_offset_reset="latest",  # a new app archives what finishes from now on
    store="memory://",
    web_enabled=False,
)
s3 = Minio(
    settings.s3_endpoint,
    access_key=settings.s3_access_key,
    secret_key=settings.s3_secret_key.get_secret_value(),
    secure=settings.s3_secure,
)
ARCHIVE = os.environ.get("ARCHIVE_BUCKET", "backdrop-archive")


@app.agent(jobs_topic(app))
async def archive(events: AsyncIterator[LifecycleEvent | None]) -> None:
    async for event in events:
        if not isinstance(event, JobCompleted):
            continue  # accepted, progress, failed …, and None: a type this version does not know
        source = CopySource(settings.artifacts_bucket, event.output_key)
        try:
            await asyncio.to_thread(s3.copy_object, ARCHIVE, event.output_key, source)
        except S3Error as exc:  # deleted meanwhile: nothing to archive, and no reason to stop
            log.warning("could not archive %s: %s", event.output_key, exc.code)
            continue
        log.info("archived %s in %s", event.output_key, ARCHIVE)


if __name__ == "__main__":
    app.main()
