"""The public submit event: anyone may publish one to ``backdrop.uploads`` to start a job."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AnyUrl,
    ConfigDict,
    Discriminator,
    Field,
    HttpUrl,
    JsonValue,
    Tag,
    TypeAdapter,
    UrlConstraints,
)

from schemas.common import Envelope, Model
from schemas.options import OPTIONS_EXAMPLE, JobOptions

HttpsUrl = Annotated[AnyUrl, UrlConstraints(allowed_schemes=["https"], host_required=True, max_length=2083)]


class ObjectRef(Model):
    """An object in S3-compatible storage."""

    bucket: str = Field(
        min_length=3,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$",
        description="Bucket name.",
        examples=["backdrop-uploads"],
    )
    key: str = Field(
        min_length=1,
        max_length=1024,
        description="Object key inside the bucket.",
        examples=["incoming/interview.mp4"],
    )


class ObjectSource(Model):
    """The input is an object already in the store (usually the uploads bucket)."""

    object: ObjectRef = Field(
        description="Where the input lies.",
        examples=[{"bucket": "backdrop-uploads", "key": "incoming/interview.mp4"}],
    )


class UrlSource(Model):
    """The input is fetched from a public HTTPS address."""

    url: HttpsUrl = Field(
        description="HTTPS address of the input video or image.",
        examples=["https://media.example.com/interview.mp4"],
    )


def _source_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return "object" if "object" in value else "url" if "url" in value else None
    return "object" if isinstance(value, ObjectSource) else "url" if isinstance(value, UrlSource) else None


Source = Annotated[
    Annotated[ObjectSource, Tag("object")] | Annotated[UrlSource, Tag("url")],
    Discriminator(
        _source_kind,
        custom_error_type="source_kind",
        custom_error_message="source needs either an 'object' {bucket, key} or a 'url'",
    ),
]

_SUBMIT_EXAMPLES: list[JsonValue] = [
    {
        "event_type": "submit",
        "job_id": "job_4vJ9kQ2mXcR7tP1sLwE8aZ",
        "source": {"object": {"bucket": "backdrop-uploads", "key": "incoming/interview.mp4"}},
        "options": {"background": "#00FF00", "output_format": "mp4", "heroes": 5},
        "webhook_url": "https://hooks.example.com/backdrop",
        "idempotency_key": "crm-upload-81723",
    },
    {
        "event_type": "submit",
        "job_id": "job_8HcN2pQ5rT9wXyZ3aBcD4e",
        "source": {"url": "https://media.example.com/talk.mov"},
        "options": {"background": "transparent", "output_format": "webm"},
    },
]


class SubmitJob(Envelope):
    """Start a job. Producers publish this JSON (UTF-8) to ``backdrop.uploads``, keyed by ``job_id``.

    Required: ``event_type`` ("submit"), ``job_id`` (choose it: 8–64 characters of ``[A-Za-z0-9_-]``,
    then follow it on ``backdrop.jobs``) and ``source``. Everything else has a default.
    """

    model_config = ConfigDict(json_schema_extra={"examples": _SUBMIT_EXAMPLES})

    event_type: Literal["submit"] = Field(
        description="Event discriminator; always 'submit'.", examples=["submit"]
    )
    source: Source = Field(
        description="The input: {'object': {'bucket', 'key'}} for a stored object, or {'url': 'https://…'}.",
        examples=[
            {"object": {"bucket": "backdrop-uploads", "key": "incoming/interview.mp4"}},
            {"url": "https://media.example.com/talk.mov"},
        ],
    )
    options: JobOptions = Field(
        default_factory=JobOptions,
        description="How to render the job; omitted fields take their defaults.",
        examples=[OPTIONS_EXAMPLE],
    )
    webhook_url: HttpUrl | None = Field(
        default=None,
        description="Called with a signed POST when the job ends (completed, failed or cancelled).",
        examples=["https://hooks.example.com/backdrop", None],
    )
    owner: str | None = Field(
        default=None,
        max_length=128,
        description="Id of the API key that owns the job; null for jobs submitted straight to Kafka or "
        "the uploads bucket.",
        examples=["key_7Qm2", None],
    )
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="A second submit with the same owner and key returns the first job instead of a new one.",
        examples=["crm-upload-81723", None],
    )


SUBMIT_ADAPTER = TypeAdapter(SubmitJob)
_HTTPS_URL: TypeAdapter[AnyUrl] = TypeAdapter(HttpsUrl)


def parse_submit(data: bytes | str) -> SubmitJob:
    """Parse a submit event from JSON; raises pydantic's ValidationError when it is not one."""
    return SUBMIT_ADAPTER.validate_json(data)


def public_source(source: ObjectSource | UrlSource) -> ObjectSource | UrlSource:
    """The source as a public topic may show it: a URL loses credentials, query string and fragment (a
    presigned URL's signature is a secret); an object reference stays as it is."""
    if isinstance(source, ObjectSource):
        return source
    url = source.url
    port = f":{url.port}" if url.port is not None and url.port != 443 else ""
    return UrlSource(url=_HTTPS_URL.validate_python(f"{url.scheme}://{url.host}{port}{url.path or '/'}"))
