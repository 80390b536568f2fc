from __future__ import annotations

from pathlib import Path

import pytest

from streams.errors import InvalidObjectKey
from streams.store import LocalStore
from tests.unit.streams.store_contract import ObjectStoreContract


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture
def ns() -> str:
    return "ns"


class TestLocalStore(ObjectStoreContract):
    def test_keys_are_files_under_the_root(self, store: LocalStore) -> None:
        store.put_bytes("jobs/j1/segment/00000/probs", b"p")
        assert (store.root / "jobs" / "j1" / "segment" / "00000" / "probs").read_bytes() == b"p"
        assert store.url("jobs/j1/segment/00000/probs").startswith("file:///")

    def test_the_staging_folder_is_not_a_key(self, store: LocalStore) -> None:
        store.put_bytes("a", b"x")
        assert store.list() == ["a"]
        with pytest.raises(InvalidObjectKey):
            store.put_bytes(".partial/x", b"x")

    def test_delete_prefix_prunes_empty_folders(self, store: LocalStore) -> None:
        store.put_bytes("jobs/j1/a/b", b"x")
        store.delete_prefix("jobs/j1/")
        assert sorted(p.name for p in store.root.iterdir()) == [".partial"]


def test_a_jobs_own_objects_are_under_its_prefix_and_stay_there() -> None:
    from streams.store import in_job

    assert in_job("jobs/job_a/assemble/output.mp4", "job_a")
    assert not in_job("jobs/job_b/assemble/output.mp4", "job_a")
    assert not in_job("jobs/job_a/../job_b/poster.jpg", "job_a")
    assert not in_job("jobs/job_ab/x", "job_a")
