from __future__ import annotations

from pathlib import Path

import pytest
from minio import Minio

from streams.errors import InvalidObjectKey
from streams.s3_store import S3Store
from streams.store import LocalStore, ObjectStore, object_key


def test_chunk_keys_sort_in_chunk_order() -> None:
    keys = [object_key("j1", "matte", index, "alpha.webm") for index in (10, 2, 100)]
    assert sorted(keys) == [
        "jobs/j1/matte/00002/alpha.webm",
        "jobs/j1/matte/00010/alpha.webm",
        "jobs/j1/matte/00100/alpha.webm",
    ]


def test_job_wide_objects_have_no_chunk_part() -> None:
    assert object_key("j1", "assemble", None, "output.mp4") == "jobs/j1/assemble/output.mp4"


@pytest.mark.parametrize(
    ("job_id", "chunk", "name"), [("..", 0, "x"), ("j1", -1, "x"), ("j1", 0, ""), ("j1", 0, "../../x")]
)
def test_bad_parts_are_refused(job_id: str, chunk: int, name: str) -> None:
    with pytest.raises(InvalidObjectKey):
        object_key(job_id, "segment", chunk, name)


def test_both_backends_are_object_stores(tmp_path: Path) -> None:
    # The annotation is checked by mypy (signatures), isinstance at run time (method names).
    stores: list[ObjectStore] = [LocalStore(tmp_path), S3Store(Minio("127.0.0.1:9"), "bucket")]
    assert all(isinstance(store, ObjectStore) for store in stores)
