"""Bounded retries with backoff, and dead-letter records that keep the original event byte for byte."""

from __future__ import annotations

import asyncio
import random
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from base.errors import BackdropError, InternalError
from streams.errors import RetryableError
from streams.headers import Headers, get_text, set_header

T = TypeVar("T")

ERROR_CODE = "backdrop-error-code"
ERROR_MESSAGE = "backdrop-error-message"
ERROR_TYPE = "backdrop-error-type"
STAGE = "backdrop-stage"
SOURCE_TOPIC = "backdrop-source-topic"
SOURCE_PARTITION = "backdrop-source-partition"
SOURCE_OFFSET = "backdrop-source-offset"
ATTEMPTS = "backdrop-attempts"
DEAD_LETTERED_AT = "backdrop-dead-lettered-at"
# Only for errors we did not raise on purpose (bugs): where it happened, for whoever fixes it.
ERROR_TRACEBACK = "backdrop-error-traceback"
DEAD_LETTER_HEADERS = (
    ERROR_CODE,
    ERROR_MESSAGE,
    ERROR_TYPE,
    STAGE,
    SOURCE_TOPIC,
    SOURCE_PARTITION,
    SOURCE_OFFSET,
    ATTEMPTS,
    DEAD_LETTERED_AT,
    ERROR_TRACEBACK,
)

# Headers must stay small; a stack of validation errors can be long.
_MAX_MESSAGE_BYTES = 4096
# The innermost frames matter most: a longer traceback keeps its end.
_MAX_TRACEBACK_BYTES = 8192


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base_delay_s`` doubled per attempt, capped, shortened by up to ``jitter``."""

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    # Fraction of each delay taken off at random, so workers that failed together don't retry together.
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not 0 <= self.base_delay_s <= self.max_delay_s:
            raise ValueError(
                f"need 0 <= base_delay_s <= max_delay_s, got {self.base_delay_s}, {self.max_delay_s}"
            )
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter is a fraction in [0, 1], got {self.jitter}")

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1 = the first try)."""
        if attempt < 1:
            raise ValueError(f"attempts count from 1, got {attempt}")
        # min() before the power would overflow: attempt 2000 must not raise.
        exponent = min(attempt - 1, 62)
        capped = min(self.max_delay_s, self.base_delay_s * 2.0**exponent)
        return capped * (1.0 - self.jitter * rand())

    def gives_up_after(self, attempt: int) -> bool:
        """Whether a failure on attempt ``attempt`` is the last one allowed."""
        return attempt >= self.max_attempts


def retry(
    action: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], object] = time.sleep,
    rand: Callable[[], float] = random.random,
) -> T:
    """Run ``action``, retrying on ``RetryableError`` only; when attempts run out the last is re-raised."""
    attempt = 1
    while True:
        try:
            return action()
        except RetryableError:
            if policy.gives_up_after(attempt):
                raise
        sleep(policy.delay(attempt, rand))
        attempt += 1


async def retry_async(
    action: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> T:
    """``retry`` for coroutines: the wait does not block the event loop."""
    attempt = 1
    while True:
        try:
            return await action()
        except RetryableError:
            if policy.gives_up_after(attempt):
                raise
        await sleep(policy.delay(attempt, rand))
        attempt += 1


def error_code(error: BaseException) -> str:
    """The stable code of a Backdrop error; ``internal_error`` for anything else (a bug to fix)."""
    return error.code if isinstance(error, BackdropError) else InternalError.code


def dead_letter_record(
    original_value: bytes | None,
    original_headers: Headers,
    topic: str,
    partition: int,
    offset: int,
    error: BaseException,
    *,
    stage: str,
    attempts: int = 1,
    now: datetime | None = None,
) -> tuple[bytes | None, Headers]:
    """The value and headers to publish on the dead-letter topic (keyed as the original was).

    The value is the original bytes untouched and the original headers are kept (trace context
    included), so an operator can replay the record as is after ``replay_headers``.
    """
    message = str(error) or type(error).__name__
    encoded = message.encode()[:_MAX_MESSAGE_BYTES]
    at = (now or datetime.now(UTC)).isoformat(timespec="milliseconds")
    headers = list(original_headers)
    for name, value in (
        (ERROR_CODE, error_code(error)),
        (ERROR_MESSAGE, encoded.decode(errors="ignore")),
        (ERROR_TYPE, f"{type(error).__module__}.{type(error).__qualname__}"),
        (STAGE, stage),
        (SOURCE_TOPIC, topic),
        (SOURCE_PARTITION, str(partition)),
        (SOURCE_OFFSET, str(offset)),
        (ATTEMPTS, str(attempts)),
        (DEAD_LETTERED_AT, at),
    ):
        headers = set_header(headers, name, value)
    if not isinstance(error, BackdropError) and error.__traceback__ is not None:
        trace = "".join(traceback.format_exception(error)).encode()[-_MAX_TRACEBACK_BYTES:]
        headers = set_header(headers, ERROR_TRACEBACK, trace.decode(errors="ignore"))
    return original_value, headers


@dataclass(frozen=True)
class DeadLetter:
    """What a dead-letter record says about its failure, read back from its headers."""

    error_code: str
    error_message: str
    error_type: str
    stage: str
    source_topic: str
    source_partition: int
    source_offset: int
    attempts: int
    dead_lettered_at: datetime


def read_dead_letter(headers: Headers) -> DeadLetter:
    """Parse the dead-letter headers of a record; ``ValueError`` if they are not all there."""

    def text(name: str) -> str:
        value = get_text(headers, name)
        if value is None:
            raise ValueError(f"not a dead-letter record: header {name!r} is missing")
        return value

    return DeadLetter(
        error_code=text(ERROR_CODE),
        error_message=text(ERROR_MESSAGE),
        error_type=text(ERROR_TYPE),
        stage=text(STAGE),
        source_topic=text(SOURCE_TOPIC),
        source_partition=int(text(SOURCE_PARTITION)),
        source_offset=int(text(SOURCE_OFFSET)),
        attempts=int(text(ATTEMPTS)),
        dead_lettered_at=datetime.fromisoformat(text(DEAD_LETTERED_AT)),
    )


def replay_headers(headers: Headers) -> Headers:
    """The original record's headers: the dead-letter ones removed, trace context and the rest kept."""
    return [(name, value) for name, value in headers if name not in DEAD_LETTER_HEADERS]
