"""Errors of the streaming plumbing; each subclass says what a worker does with the message."""

from __future__ import annotations

from base.errors import BackdropError


class StreamError(BackdropError):
    """Root of the streaming errors."""

    code = "stream_error"


class PoisonMessage(StreamError):
    """The event cannot be read or validated: dead-letter it at once, never retry; ``original`` is kept."""

    code = "poison_message"

    def __init__(self, message: str, original: bytes | None) -> None:
        super().__init__(message)
        self.original = original


class RetryableError(StreamError):
    """A transient failure (network, broker, object store busy): back off and retry, then dead-letter."""

    code = "retryable"


class ObjectNotFound(StreamError):
    """A claim-check object is missing: not retried; the job fails (its input or an output is gone)."""

    code = "object_not_found"


class InvalidObjectKey(StreamError):
    """A key that is empty, absolute or climbs out with ``..``: the event carrying it is dead-lettered."""

    code = "invalid_object_key"


class StoreRefused(StreamError):
    """The store refused (credentials, bucket, policy): fix the configuration; retrying won't help."""

    code = "store_refused"


class Refused(StreamError):
    """A well-formed message that is not allowed (a job id already claimed by another submit, an owner
    not proven): dead-lettered at once with the reason; the job it names is not touched."""

    code = "refused"
