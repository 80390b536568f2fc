"""Who may start which job, and which objects a job may read: job ids claimed once, owners' prefixes.

Everything on ``backdrop.uploads`` and ``backdrop.storage.events`` is untrusted input. A submit passes the
gate once: its job id is claimed in the store with a digest of what it asks for, and only then is it
published to ``backdrop.stage.extract``, which only the pipeline writes and the projector reads. A second
submit for a claimed id that asks for anything else is refused; the same submit again (a redelivery, a
retried publish) passes again and redoes the same work with the same outputs.
"""

from __future__ import annotations

import hashlib

import orjson

from base.errors import ObjectRefused
from schemas import JobOptions, ObjectSource, Source, SubmitJob
from schemas.background import IMAGE_SUFFIXES, Asset, Image, Video
from streams.errors import ObjectNotFound, Refused
from streams.store import ObjectStore, check_key, job_prefix

# Objects in the uploads bucket under this prefix belong to one API key: owners/{key_id}/...
OWNERS_PREFIX = "owners/"
ASSETS = "assets/"  # under an owner's prefix: the backgrounds it uploaded with POST /v1/assets
# What the digest covers: the request, not when or under which event id it was published.
_CLAIMED_FIELDS = {"job_id", "owner", "source", "options", "webhook_url", "idempotency_key"}


def owner_prefix(owner: str) -> str:
    return f"{OWNERS_PREFIX}{owner}/"


def claim_key(job_id: str) -> str:
    """Beside the job's stage objects, not among them: deleting intermediates must not free the id."""
    return check_key(f"{job_prefix(job_id)}claim.json")


def claim_digest(submit: SubmitJob) -> str:
    request = submit.model_dump(mode="json", include=_CLAIMED_FIELDS)
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()


def claim(store: ObjectStore, submit: SubmitJob) -> None:
    """Claim the submit's job id for this request; Refused when another request holds it."""
    digest = claim_digest(submit)
    record = orjson.dumps({"digest": digest, "owner": submit.owner})
    key = claim_key(submit.job_id)
    if store.create(key, record, "application/json"):
        return
    try:
        held = orjson.loads(store.get_bytes(key)).get("digest")
    except ObjectNotFound:  # deleted between the two calls (the job was deleted): claim it again
        if store.create(key, record, "application/json"):
            return
        held = orjson.loads(store.get_bytes(key)).get("digest")
    if held != digest:
        raise Refused(
            f"job id {submit.job_id!r} is already taken by another submit: a job id is claimed once, and "
            "this submit asks for something else (source, options, owner or webhook); choose a new job id"
        )


def check_reference(owner: str | None, bucket: str, key: str, uploads_bucket: str, what: str) -> None:
    """An object a job may read: in the uploads bucket, under its owner's prefix (owned jobs) or outside
    every owner's prefix (jobs without an owner). ObjectRefused otherwise."""
    if bucket != uploads_bucket:
        raise ObjectRefused(
            f"the {what} is in bucket {bucket!r}; jobs read objects from the uploads bucket "
            f"{uploads_bucket!r} only: upload the file there"
        )
    if owner is not None and not key.startswith(owner_prefix(owner)):
        raise ObjectRefused(
            f"the {what} {key!r} is not under this key's prefix {owner_prefix(owner)!r}: upload it "
            "through the API (POST /v1/uploads), which puts it there"
        )
    if owner is None and key.startswith(OWNERS_PREFIX):
        raise ObjectRefused(
            f"the {what} {key!r} belongs to an API key's uploads; a job without an owner may read only "
            f"objects outside {OWNERS_PREFIX!r}"
        )


def check_references(owner: str | None, source: Source, options: JobOptions, uploads_bucket: str) -> None:
    """Every object a job would read (its source, an image or video background) is one it may read."""
    if isinstance(source, ObjectSource):
        check_reference(owner, source.object.bucket, source.object.key, uploads_bucket, "source")
    background = options.background
    if isinstance(background, Image | Video) and (stored := background.s3_object) is not None:
        bucket, key = stored
        check_reference(owner, bucket, key, uploads_bucket, "background")


def asset_prefix(owner: str, asset_id: str) -> str:
    """Where an API key's asset lies in the uploads bucket: its one object, under its original name."""
    return f"{owner_prefix(owner)}{ASSETS}{asset_id}/"


def resolve_asset(
    asset: Asset, owner: str | None, uploads: ObjectStore, uploads_bucket: str
) -> Image | Video:
    """The owner's uploaded image or video an ``asset:ID`` background names (ObjectRefused if none)."""
    keys = sorted(uploads.list(asset_prefix(owner, asset.id))) if owner is not None else []
    if not keys:
        raise ObjectRefused(
            f"no asset {asset.id!r} for this key: upload the background with POST /v1/assets and name the "
            "id it gives"
        )
    ref = f"s3://{uploads_bucket}/{keys[0]}"
    if keys[0].lower().endswith(IMAGE_SUFFIXES):
        return Image(ref=ref, fit=asset.fit)
    return Video(ref=ref, fit=asset.fit)


def with_assets(
    options: JobOptions, owner: str | None, uploads: ObjectStore, uploads_bucket: str
) -> JobOptions:
    """``options`` with an ``asset:ID`` background turned into the owner's object; others unchanged."""
    if not isinstance(options.background, Asset):
        return options
    background = resolve_asset(options.background, owner, uploads, uploads_bucket)
    return options.model_copy(update={"background": background})
