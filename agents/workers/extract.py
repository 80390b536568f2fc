"""The extract worker: a submitted job (event or bucket upload) → probed, checked, stored, cut in chunks."""

from __future__ import annotations

import base64
import hashlib
import re
import time
import urllib.parse
from pathlib import Path
from typing import ClassVar

import orjson

from agents.extract import Limits, extract_audio, plan_chunks, probe, validate
from agents.workers.context import CHUNK_SECONDS, WARMUP_FRAMES, StageContext, source_key
from agents.workers.url_source import UrlFetcher, url_suffix
from base.errors import InputNotFound, UnsupportedInput
from schemas import (
    JOB_ID_PATTERN,
    SUBMIT_ADAPTER,
    ChunkRef,
    ChunkTask,
    JobAccepted,
    JobOptions,
    MediaFacts,
    ObjectRef,
    ObjectSource,
    PipelineStage,
    SubmitJob,
    UrlSource,
    next_chunk_stage,
)
from streams.codec import decode
from streams.errors import ObjectNotFound, PoisonMessage
from streams.store import PRESIGNED_PREFIX, SUBMITTED_PREFIX, object_key, pending_submit_key
from streams.topics import INGEST, JOBS, STORAGE_EVENTS, stage_topic
from streams.worker import Handled, Outgoing, event_id


def job_id_for_object(bucket: str, key: str, etag: str) -> str:
    """The same upload always maps to the same job, so a redelivered notification starts no second job."""
    digest = hashlib.sha256(f"{bucket}/{key}/{etag}".encode()).digest()[:15]
    return "job_" + base64.b32encode(digest).decode().lower()


def submit_from_notification(value: bytes) -> SubmitJob | None:
    """A MinIO/S3 `ObjectCreated` notification → a submit event with default options (None: not for us)."""
    try:
        record = orjson.loads(value)["Records"][0]
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        etag = record["s3"]["object"].get("eTag", "")
        name = record.get("eventName", "")
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
        raise PoisonMessage(f"not a bucket notification: {exc}", value) from exc
    if not name.startswith("s3:ObjectCreated:") or key.startswith(SUBMITTED_PREFIX):
        return None
    job_id = job_id_for_object(bucket, key, etag)
    if key.startswith(PRESIGNED_PREFIX):
        # presigned/{job_id}/{name}: the job the API announced when it handed out the URL.
        named = key.removeprefix(PRESIGNED_PREFIX).split("/", 1)[0]
        if re.fullmatch(JOB_ID_PATTERN, named):
            job_id = named
    return SubmitJob(
        event_type="submit",
        event_id=event_id(job_id, "submit"),
        job_id=job_id,
        source=ObjectSource(object=ObjectRef(bucket=bucket, key=key)),
        options=JobOptions(),
    )


class ExtractHandler:
    stage: ClassVar[PipelineStage] = "extract"
    topics = tuple(spec.name for spec in INGEST)

    def __init__(self, context: StageContext, limits: Limits | None = None) -> None:
        self.context = context
        self.limits = limits or Limits()
        self.fetcher = UrlFetcher(context.settings)

    def decode(self, topic: str, value: bytes | None) -> SubmitJob | None:
        if topic == STORAGE_EVENTS.name:
            if value is None:
                raise PoisonMessage("a bucket notification with no value", value)
            return submit_from_notification(value)
        return decode(value, SUBMIT_ADAPTER)

    def handle(self, submit: SubmitJob | None) -> Handled:
        if submit is None:
            return Handled()
        started = time.perf_counter()
        submit = self._with_pending_options(submit)
        if submit.options.output_format != "mp4":
            raise UnsupportedInput(
                f"the pipeline writes mp4 for now; {submit.options.output_format} comes later — "
                "use `backdrop process` on one machine for webm/mov outputs"
            )
        local = self._fetch(submit)
        try:
            return self._extract(submit, local, started)
        finally:
            local.unlink(missing_ok=True)

    def _with_pending_options(self, submit: SubmitJob) -> SubmitJob:
        """A presigned upload's job takes the options, owner and webhook the API stored for it."""
        if not (
            isinstance(submit.source, ObjectSource) and submit.source.object.key.startswith(PRESIGNED_PREFIX)
        ):
            return submit
        try:
            pending = decode(
                self.context.artifacts.get_bytes(pending_submit_key(submit.job_id)), SUBMIT_ADAPTER
            )
        except ObjectNotFound:
            return submit  # written there without the API: an ordinary upload, default options
        return pending.model_copy(update={"source": submit.source, "event_id": submit.event_id})

    def _fetch(self, submit: SubmitJob) -> Path:
        """The job's input on local disk: from its bucket, or downloaded from its URL (SSRF-guarded)."""
        if isinstance(submit.source, UrlSource):
            url = str(submit.source.url)
            local = self.context.cache_dir / f"{submit.job_id}{url_suffix(url)}"
            self.fetcher.fetch(submit.job_id, url, local)
            return local
        ref = submit.source.object
        local = self.context.cache_dir / f"{submit.job_id}{Path(ref.key).suffix.lower() or '.bin'}"
        try:
            self.context.store_for(ref.bucket).get_file(ref.key, local)
        except ObjectNotFound as exc:
            raise InputNotFound(
                f"the upload {ref.key!r} is not in bucket {ref.bucket!r} (deleted, or never uploaded): "
                "upload the file again"
            ) from exc
        return local

    def _extract(self, submit: SubmitJob, local: Path, started: float) -> Handled:
        info = probe(local)
        validate(info, self.limits)
        if info.is_image:
            raise UnsupportedInput("stills are not run through the pipeline yet: use `backdrop process`")
        chunks = plan_chunks(info, CHUNK_SECONDS, WARMUP_FRAMES)
        # The job keeps its own copy: chunk workers decode their frames from it, assemble muxes its audio.
        key = source_key(submit.job_id, local.suffix)
        self.context.artifacts.put_file(key, local)
        # A track the probe lists may still have no decodable stream (damaged headers): then no audio,
        # as `process` makes it.
        side = local.with_suffix(".audio")
        has_audio = info.audio is not None and extract_audio(local, side) is not None
        if has_audio:
            self.context.artifacts.put_file(object_key(submit.job_id, "extract", None, "audio"), side)
        side.unlink(missing_ok=True)
        media = MediaFacts(
            width=info.width,
            height=info.height,
            fps=f"{info.fps.numerator}/{info.fps.denominator}",
            time_base=f"{info.time_base.numerator}/{info.time_base.denominator}",
            frame_count=chunks[-1].stop,
            duration_s=info.duration_s,
            has_audio=has_audio,
            rotation=info.rotation,
            is_image=False,
        )
        accepted = JobAccepted(
            event_type="accepted",
            event_id=event_id(submit.job_id, "accepted"),
            job_id=submit.job_id,
            source=submit.source,
            options=submit.options,
            media=media,
            chunk_count=len(chunks),
            owner=submit.owner,
            webhook_url=submit.webhook_url,
        )
        seconds = time.perf_counter() - started
        events = [Outgoing(JOBS.name, submit.job_id, accepted)]
        first = next_chunk_stage(self.stage)
        for spec in chunks:
            task = ChunkTask(
                event_type="chunk_task",
                event_id=event_id(submit.job_id, first, spec.index),
                job_id=submit.job_id,
                stage=first,
                chunk=ChunkRef(
                    index=spec.index,
                    start=spec.start,
                    stop=spec.stop,
                    warmup_start=spec.warmup_start,
                    count=len(chunks),
                ),
                media=media,
                options=submit.options,
                source_key=key,
                metrics={"extract_s": round(seconds, 4)},
            )
            # Keyed by chunk, so one job's chunks spread over partitions and so over workers.
            events.append(Outgoing(stage_topic(first).name, f"{submit.job_id}/{spec.index}", task))
        return Handled(events)
