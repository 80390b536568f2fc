"""The extract worker, in two steps on one consumer group.

1. The gate: a submit from a public ingest topic (a submit event, or a bucket notification) has its job id
   claimed (`agents.workers.admission`) and is passed on to ``backdrop.stage.extract``.
2. Extraction: a submit from ``backdrop.stage.extract`` → its object references checked, the input fetched,
   probed, checked, stored and cut in chunks.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import orjson
from pydantic import ValidationError

from agents.extract import Limits, extract_audio, plan_chunks, probe, validate
from agents.workers.context import VIDEO_FORMATS, WARMUP_FRAMES, StageContext, chunk_seconds, source_key
from agents.workers.url_source import UrlFetcher, url_suffix
from base.errors import InputError, InputNotFound, LimitExceeded, ModelUnknown, UnsupportedInput
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
    public_source,
)
from schemas.models import UnknownModel, check_model, served_models
from streams.codec import decode
from streams.errors import InvalidObjectKey, ObjectNotFound, PoisonMessage, Refused
from streams.headers import Headers
from streams.ownership import OWNERS_PREFIX, check_references, claim, owner_prefix, with_assets
from streams.signing import submit_secret, verify_submit
from streams.store import PRESIGNED_PREFIX, SUBMITTED_PREFIX, object_key, pending_submit_key
from streams.topics import JOBS, STORAGE_EVENTS, stage_inputs, stage_topic
from streams.worker import Handled, Outgoing, event_id

# Where submits that passed the gate go: private, written by the gate, read by extraction and the projector.
ADMITTED = stage_topic("extract").name


def job_id_for_object(bucket: str, key: str, etag: str) -> str:
    """The same upload always maps to the same job, so a redelivered notification starts no second job."""
    digest = hashlib.sha256(f"{bucket}/{key}/{etag}".encode()).digest()[:15]
    return "job_" + base64.b32encode(digest).decode().lower()


def presigned_job(key: str) -> str | None:
    """The job a presigned upload's key names (``owners/{key_id}/presigned/{job_id}/{name}``), or None."""
    parts = key.split("/", 4)
    if len(parts) < 5 or f"{parts[0]}/" != OWNERS_PREFIX or f"{parts[2]}/" != PRESIGNED_PREFIX:
        return None
    return parts[3] if re.fullmatch(JOB_ID_PATTERN, parts[3]) else None


def submit_from_notification(value: bytes) -> SubmitJob | None:
    """A MinIO/S3 `ObjectCreated` notification → a submit event with default options (None: not for us)."""
    try:
        record = orjson.loads(value)["Records"][0]
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        etag = record["s3"]["object"].get("eTag", "")
        name = record.get("eventName", "")
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise PoisonMessage(f"not a bucket notification: {exc}", value) from exc
    if not name.startswith("s3:ObjectCreated:") or key.startswith(SUBMITTED_PREFIX):
        return None
    job_id = job_id_for_object(bucket, key, etag)
    if key.startswith(OWNERS_PREFIX):
        # A presigned upload starts the job the API announced with its URL; the API's own uploads
        # (owners/{key_id}/submitted/...) start their jobs themselves, and nothing else there starts one.
        announced = presigned_job(key)
        if announced is None:
            return None
        job_id = announced
    try:
        return SubmitJob(
            event_type="submit",
            event_id=event_id(job_id, "submit"),
            job_id=job_id,
            source=ObjectSource(object=ObjectRef(bucket=bucket, key=key)),
            options=JobOptions(),
        )
    except ValidationError as exc:
        raise PoisonMessage(f"the notification names no object a job can start from: {exc}", value) from exc


@dataclass(frozen=True)
class Admission:
    """A submit as it came from a public ingest topic, not yet through the gate. It names no job to the
    worker loop on purpose: a submit refused here must not fail the job whose id it names."""

    submit: SubmitJob
    # The message's bytes and headers, for the owner's signature (a bucket notification has no owner).
    value: bytes = b""
    headers: Headers = field(default_factory=list)


class ExtractHandler:
    stage: ClassVar[PipelineStage] = "extract"
    topics = tuple(spec.name for spec in stage_inputs("extract"))

    def __init__(self, context: StageContext, limits: Limits | None = None) -> None:
        self.context = context
        self.limits = limits or Limits()
        self.fetcher = UrlFetcher(context.settings)
        self.models = served_models(context.settings.models)

    def decode(self, topic: str, value: bytes | None, headers: Headers) -> Admission | SubmitJob | None:
        if topic == STORAGE_EVENTS.name:
            if value is None:
                raise PoisonMessage("a bucket notification with no value", value)
            submit = submit_from_notification(value)
            return Admission(submit) if submit is not None else None
        if topic == ADMITTED:
            return decode(value, SUBMIT_ADAPTER)
        return Admission(decode(value, SUBMIT_ADAPTER), value or b"", headers)

    def handle(self, event: Admission | SubmitJob | None) -> Handled:
        if event is None:
            return Handled()
        if isinstance(event, Admission):
            return self.admit(event)
        return self.extract(event)

    def admit(self, admission: Admission) -> Handled:
        """Check the owner's signature, claim the job id for this submit (Refused if another holds it or
        the owner is not proven) and pass it on."""
        submit = admission.submit
        if submit.owner is not None:
            root = self.context.settings.signing_secret.get_secret_value()
            secret = submit_secret(root, submit.owner)
            verify_submit(secret, submit.job_id, admission.value, admission.headers)
        submit = self._with_pending_options(submit)
        claim(self.context.artifacts, submit)
        admitted = submit.model_copy(update={"event_id": event_id(submit.job_id, "admitted")})
        return Handled([Outgoing(ADMITTED, submit.job_id, admitted)])

    def extract(self, submit: SubmitJob) -> Handled:
        started = time.perf_counter()
        uploads = self.context.settings.uploads_bucket
        # An asset:ID background becomes the owner's uploaded file: no worker after this one sees the id.
        options = with_assets(submit.options, submit.owner, self.context.store_for(uploads), uploads)
        submit = submit.model_copy(update={"options": options})
        check_references(submit.owner, submit.source, submit.options, uploads)
        try:
            check_model(submit.options.model, self.models)
        except UnknownModel as exc:
            raise ModelUnknown(str(exc)) from None
        local = self._fetch(submit)
        try:
            return self._extract(submit, local, started)
        except InputError as exc:
            # The cores name the file they opened: here a scratch path of this worker's, which means
            # nothing to the user who reads the reason.
            if str(local) not in exc.message:
                raise
            raise type(exc)(exc.message.replace(str(local), "the input")) from exc
        finally:
            local.unlink(missing_ok=True)

    def _with_pending_options(self, submit: SubmitJob) -> SubmitJob:
        """A presigned upload's job takes the options, owner and webhook the API stored for it."""
        if not isinstance(submit.source, ObjectSource) or presigned_job(submit.source.object.key) is None:
            return submit
        try:
            pending = decode(
                self.context.artifacts.get_bytes(pending_submit_key(submit.job_id)), SUBMIT_ADAPTER
            )
        except ObjectNotFound:
            return submit  # written there without the API: an ordinary upload, default options
        if pending.owner is None or not submit.source.object.key.startswith(owner_prefix(pending.owner)):
            raise Refused(f"the upload {submit.source.object.key!r} is not where its job's owner uploads")
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
        store = self.context.store_for(ref.bucket)
        # An upload through the API (its key's prefix) has the API's upload limit, a presigned PUT too,
        # though S3 took it without one; asked before downloading anything.
        through_api = ref.key.startswith(OWNERS_PREFIX)
        most = self.limits.max_bytes
        if through_api:
            most = min(most, self.context.settings.upload_max_bytes)
        try:
            size = store.size(ref.key)
            if size > most:
                setting = "BACKDROP_UPLOAD_MAX_BYTES" if through_api else "max_bytes"
                raise LimitExceeded(
                    f"the upload is {size:,} bytes, more than the limit of {most:,} ({setting}); cut or "
                    "compress the input"
                )
            store.get_file(ref.key, local)
        except ObjectNotFound as exc:
            raise InputNotFound(
                f"the upload {ref.key!r} is not in bucket {ref.bucket!r} (deleted, or never uploaded): "
                "upload the file again"
            ) from exc
        except InvalidObjectKey as exc:  # a key no store takes: bad input, not a fault to retry
            raise InputNotFound(f"{exc}: no upload can be stored under that key") from exc
        return local

    def _extract(self, submit: SubmitJob, local: Path, started: float) -> Handled:
        info = probe(local)
        validate(info, self.limits)
        if not info.is_image and submit.options.output_format not in VIDEO_FORMATS:
            raise UnsupportedInput(
                f"{submit.options.output_format} is a still format and this upload is a video: choose "
                "output_format mp4, webm, mov or png (a ZIP of PNG frames)"
            )
        budget = self.context.settings.chunk_memory_bytes
        chunks = plan_chunks(info, chunk_seconds(info.width, info.height, info.fps, budget), WARMUP_FRAMES)
        if chunks[-1].stop > self.limits.max_frames:  # the header's count may be a lie; the packets are not
            raise LimitExceeded(
                f"the video holds {chunks[-1].stop:,} frames, more than the limit of "
                f"{self.limits.max_frames:,} (max_frames); cut the input"
            )
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
            is_image=info.is_image,
        )
        accepted = JobAccepted(
            event_type="accepted",
            event_id=event_id(submit.job_id, "accepted"),
            job_id=submit.job_id,
            source=public_source(submit.source),
            options=submit.options,
            media=media,
            chunk_count=len(chunks),
            owner=submit.owner,
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
