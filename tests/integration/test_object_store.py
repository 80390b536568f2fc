"""The object-store contract against the real S3 server (MinIO)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from base.settings import Settings
from streams.errors import StoreRefused
from streams.s3_store import S3Store, s3_store
from tests.unit.streams.store_contract import ObjectStoreContract

pytestmark = pytest.mark.integration


@pytest.fixture
def store(infra: Settings) -> S3Store:
    return s3_store(infra)


@pytest.fixture
def ns(store: S3Store) -> Iterator[str]:
    """A key prefix of this test's own in the shared bucket, emptied afterwards."""
    prefix = f"test/{uuid.uuid4().hex}"
    yield prefix
    store.delete_prefix(f"{prefix}/")


class TestS3Store(ObjectStoreContract):
    def test_content_type_is_stored(self, store: S3Store, ns: str) -> None:
        store.put_bytes(f"{ns}/clip.mp4", b"mp4", content_type="video/mp4")
        assert store.client.stat_object(store.bucket, f"{ns}/clip.mp4").content_type == "video/mp4"

    def test_a_missing_bucket_is_a_refusal_not_a_retry(self, infra: Settings) -> None:
        store = s3_store(infra, bucket=f"absent-{uuid.uuid4().hex[:12]}")
        with pytest.raises(StoreRefused, match="bucket"):
            store.put_bytes("x", b"x")
