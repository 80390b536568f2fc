"""What the HTTP API takes and returns; every field described, with examples for the OpenAPI page."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, HttpUrl, Tag, field_validator

from schemas.options import OPTIONS_EXAMPLE, JobOptions
from schemas.progress import JobProgress
from schemas.submit import HttpsUrl
from streams.errors import InvalidObjectKey
from streams.store import check_key

JobStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
JOB_ID_EXAMPLE = "job_4vJ9kQ2mXcR7tP1sLwE8aZ"


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RenderOptions(JobOptions):
    """How to render: the job's options (every field has a default) and where to report its end."""

    model_config = Shape.model_config  # a request refuses unknown fields, unlike an event

    webhook_url: HttpUrl | None = Field(
        default=None,
        description="Receives a signed POST (Standard Webhooks) when the job completes, fails or is "
        "cancelled.",
        examples=["https://hooks.example.com/backdrop"],
    )

    def job_options(self) -> JobOptions:
        """The options the submit event carries: these without the webhook (and the request's own fields)."""
        return JobOptions.model_validate({name: getattr(self, name) for name in JobOptions.model_fields})


class ObjectKeySource(Shape):
    object_key: str = Field(
        min_length=1,
        max_length=1024,
        description="Key of an object already in the uploads bucket.",
        examples=["incoming/interview.mp4"],
    )

    @field_validator("object_key")
    @classmethod
    def _storable(cls, key: str) -> str:
        """Refuse keys no object can have, so the store is never asked about them (it answers 400)."""
        try:
            check_key(key)
        except InvalidObjectKey as exc:
            raise ValueError(exc.message) from None
        # S3 caps a key at 1024 bytes of UTF-8; MinIO also caps each segment at 255 (a file name).
        if len(key.encode()) > 1024 or any(len(part.encode()) > 255 for part in key.split("/")):
            raise ValueError("object keys are at most 1024 bytes, each '/' segment at most 255")
        return key


class UrlSourceIn(Shape):
    url: HttpsUrl = Field(
        description="Public HTTPS address the pipeline downloads the input from (private, loopback and "
        "link-local addresses are refused).",
        examples=["https://media.example.com/interview.mp4"],
    )


def _source_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return "object" if "object_key" in value else "url" if "url" in value else None
    return "object" if isinstance(value, ObjectKeySource) else "url"


SourceIn = Annotated[
    Annotated[ObjectKeySource, Tag("object")] | Annotated[UrlSourceIn, Tag("url")],
    Discriminator(
        _source_tag,
        custom_error_type="source_kind",
        custom_error_message="source needs either 'object_key' or 'url'",
    ),
]


class JobCreate(RenderOptions):
    """Start a job from an object in the uploads bucket or from an HTTPS URL."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"source": {"object_key": "incoming/interview.mp4"}, "background": "blur"},
                {
                    "source": {"url": "https://media.example.com/talk.mp4"},
                    "background": "#00FF00",
                    "webhook_url": "https://hooks.example.com/backdrop",
                },
            ]
        }
    )

    source: SourceIn = Field(description="Where the input is.")


class PresignRequest(RenderOptions):
    """Ask for an upload URL; the job starts when the upload completes."""

    filename: str = Field(
        min_length=1,
        max_length=255,
        # No separators and no control characters (PostgreSQL stores no NUL; S3 keys should hold none).
        pattern=r"^[^/\\\x00-\x1f\x7f]+\.[A-Za-z0-9]{1,5}$",
        description="Name of the file to upload, with its extension.",
        examples=["interview.mp4"],
    )

    @field_validator("filename")
    @classmethod
    def _fits_a_key_segment(cls, name: str) -> str:
        # It becomes one segment of an object key, which S3 servers cap at 255 bytes of UTF-8.
        if len(name.encode()) > 255:
            raise ValueError("filename is at most 255 bytes of UTF-8")
        return name


class StageState(Shape):
    chunks_done: int = Field(description="Chunks this stage has finished.", examples=[12])
    chunks_total: int = Field(description="Chunks in the job.", examples=[30])


class Progress(JobProgress):
    """The whole job's progress (as on the SSE stream), and each stage's count of finished chunks."""

    chunks_done: int = Field(description="Chunks through every stage.", examples=[12])
    chunks_total: int | None = Field(
        description="Chunks in the job; null until it is accepted.", examples=[30]
    )
    stages: dict[str, StageState] = Field(
        description="Per stage, chunks finished.",
        examples=[{"segment": {"chunks_done": 14, "chunks_total": 30}}],
    )


class JobError(Shape):
    code: str = Field(description="Stable reason.", examples=["input_corrupt"])
    message: str = Field(description="What went wrong and what to do.", examples=["the upload is truncated"])
    stage: str | None = Field(description="The stage that failed.", examples=["extract"])


class ArtifactOut(Shape):
    kind: Literal["output", "mask", "hero", "cutout", "poster"] = Field(
        description="What the object is: the output; the matte (options.mask); a hero still as composited; "
        "the same hero as a transparent cut-out (listed in the heroes' order); the poster JPEG.",
        examples=["output"],
    )
    key: str = Field(description="Object key in the artifacts bucket.", examples=["jobs/job_x/output.mp4"])
    url: str = Field(description="Presigned download URL.", examples=["http://127.0.0.1:19000/…"])
    href: str = Field(
        description="The same object through this API (the request's key or session; byte ranges), for "
        "clients that cannot reach the object store or must stay on this origin.",
        examples=[f"/v1/jobs/{JOB_ID_EXAMPLE}/files/assemble/output.mp4"],
    )


class JobStorage(Shape):
    """What a job keeps in the stores now."""

    job_id: str = Field(description="The job id.", examples=[JOB_ID_EXAMPLE])
    objects: int = Field(description="Objects under the job's prefix in the artifacts bucket.", examples=[7])
    bytes: int = Field(description="Their size in bytes.", examples=[48_211_377])
    output_bytes: int = Field(
        description="Bytes kept after the job ends (outputs and markers) for the retention period.",
        examples=[47_900_112],
    )
    intermediate_bytes: int = Field(
        description="Bytes of intermediates: deleted shortly after the job ends.", examples=[311_265]
    )
    upload_bytes: int = Field(
        description="Size of the upload made for this job through the API (0 for any other source).",
        examples=[12_442_001],
    )


class JobDeletion(Shape):
    """What deleting a job removed."""

    job_id: str = Field(description="The deleted job's id.", examples=[JOB_ID_EXAMPLE])
    objects_deleted: int = Field(
        description="Objects deleted, outputs and the upload included.", examples=[6]
    )
    bytes_deleted: int = Field(description="Their size in bytes.", examples=[60_653_378])


class Timings(Shape):
    submitted_at: datetime = Field(description="When the job was submitted.")
    accepted_at: datetime | None = Field(description="When the input passed its checks.")
    finished_at: datetime | None = Field(description="When the job ended.")


class JobLinks(Shape):
    self: str = Field(examples=[f"/v1/jobs/{JOB_ID_EXAMPLE}"])
    events: str = Field(examples=[f"/v1/jobs/{JOB_ID_EXAMPLE}/events"])
    cancel: str = Field(examples=[f"/v1/jobs/{JOB_ID_EXAMPLE}/cancel"])


class JobOut(Shape):
    """A job as the read model knows it."""

    id: str = Field(description="The job id.", examples=[JOB_ID_EXAMPLE])
    status: JobStatus = Field(
        description="queued, running, completed, failed or cancelled.", examples=["running"]
    )
    source: dict[str, Any] | None = Field(
        description="The input.", examples=[{"object": {"bucket": "backdrop-uploads", "key": "a.mp4"}}]
    )
    options: dict[str, Any] | None = Field(description="Rendering options.", examples=[OPTIONS_EXAMPLE])
    progress: Progress
    timings: Timings
    metrics: dict[str, Any] | None = Field(
        description="Frames, duration and speed once completed.",
        examples=[{"frames": 1440, "duration_s": 60.06, "processing_s": 41.3, "fps": 34.9}],
    )
    error: JobError | None = Field(description="Why the job failed or was cancelled.")
    artifacts: list[ArtifactOut] = Field(
        description="Output, matte, hero stills (as composited and as cut-outs) and poster, once completed."
    )
    links: JobLinks
    batch_id: str | None = Field(
        description="The batch the job was started in (several files or sources at once); null if alone.",
        examples=[None, "batch_Qm3xR8tKp2LvW9nYc4bHs7"],
    )


class BatchLinks(Shape):
    self: str = Field(examples=["/v1/batches/batch_Qm3xR8tKp2LvW9nYc4bHs7"])
    events: str = Field(examples=["/v1/batches/batch_Qm3xR8tKp2LvW9nYc4bHs7/events"])


class BatchOut(Shape):
    """Jobs started together, followed together."""

    id: str = Field(description="The batch id.", examples=["batch_Qm3xR8tKp2LvW9nYc4bHs7"])
    status: Literal["running", "ended"] = Field(
        description="running while any of its jobs is queued or running.", examples=["running"]
    )
    counts: dict[str, int] = Field(
        description="Its jobs by status.", examples=[{"completed": 3, "running": 1}]
    )
    jobs: list[JobOut] = Field(description="Its jobs, in the order they were started.")
    links: BatchLinks


class BatchCreate(RenderOptions):
    """Start one job per source, with the same options, as one batch."""

    sources: list[SourceIn] = Field(
        min_length=1,
        max_length=100,
        description="Where each input is: objects in the uploads bucket or HTTPS URLs.",
        examples=[[{"object_key": "incoming/a.mp4"}, {"url": "https://media.example.com/b.jpg"}]],
    )


class JobPage(Shape):
    items: list[JobOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last.")


class PresignOut(Shape):
    job: JobOut
    upload_url: str = Field(
        description="PUT the file's bytes here; the job starts when the upload completes."
    )
    method: Literal["PUT"] = "PUT"
    expires_in_s: int = Field(description="Seconds the URL stays valid.", examples=[3600])


class Problem(Shape):
    """An error answer."""

    detail: str = Field(description="What went wrong and what to do.", examples=["no job job_x for this key"])
