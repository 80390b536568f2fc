from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

import pytest
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from streams.codec import decode, encode
from streams.errors import PoisonMessage


class Stage(StrEnum):
    segment = "segment"


class ChunkReady(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True)

    event_id: uuid.UUID
    stage: Stage
    chunk: int
    at: datetime
    job_id: str = Field(alias="jobId")


EVENT = ChunkReady(
    event_id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
    stage=Stage.segment,
    chunk=3,
    at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    jobId="job-1",
)
ADAPTER = TypeAdapter(ChunkReady)


def test_encode_is_compact_json_by_alias() -> None:
    assert encode(EVENT) == (
        b'{"event_id":"12345678-1234-5678-1234-567812345678","stage":"segment","chunk":3,'
        b'"at":"2026-01-02T03:04:05Z","jobId":"job-1"}'
    )


def test_strict_model_round_trips() -> None:
    assert decode(encode(EVENT), ADAPTER) == EVENT


@pytest.mark.parametrize(
    "data",
    [b"not json", b'{"event_id": "nope"}', b"", b"\xff\xfe", b"[]"],
    ids=["text", "invalid-fields", "empty", "not-utf8", "wrong-shape"],
)
def test_bad_bytes_are_poison_and_kept(data: bytes) -> None:
    with pytest.raises(PoisonMessage) as caught:
        decode(data, ADAPTER)
    assert caught.value.original is data
    assert caught.value.code == "poison_message"


def test_poison_message_names_the_bad_field() -> None:
    data = encode(EVENT).replace(b'"chunk":3', b'"chunk":"three"')
    with pytest.raises(PoisonMessage, match="chunk"):
        decode(data, ADAPTER)


def test_tombstone_is_poison() -> None:
    with pytest.raises(PoisonMessage, match="tombstone"):
        decode(None, ADAPTER)
