"""The object-store contract, written once: each backend's test class inherits it and supplies ``store``.

Tests put their keys under the ``ns`` fixture, so a shared bucket keeps them apart.
"""

from __future__ import annotations

import os
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from streams.errors import InvalidObjectKey, ObjectNotFound
from streams.store import ObjectStore

PAYLOAD = bytes(range(256)) * 1200  # 300 KiB: several blocks of a streamed copy


class ObjectStoreContract:
    def test_bytes_round_trip(self, store: ObjectStore, ns: str) -> None:
        store.put_bytes(f"{ns}/a.bin", PAYLOAD, content_type="application/x-test")
        assert store.get_bytes(f"{ns}/a.bin") == PAYLOAD
        assert store.size(f"{ns}/a.bin") == len(PAYLOAD)

    def test_empty_object(self, store: ObjectStore, ns: str) -> None:
        store.put_bytes(f"{ns}/empty", b"")
        assert store.get_bytes(f"{ns}/empty") == b""
        assert store.exists(f"{ns}/empty")
        assert store.size(f"{ns}/empty") == 0

    def test_a_retry_overwrites_the_same_key(self, store: ObjectStore, ns: str) -> None:
        store.put_bytes(f"{ns}/chunk/alpha", b"first attempt, longer")
        store.put_bytes(f"{ns}/chunk/alpha", b"retry")
        assert store.get_bytes(f"{ns}/chunk/alpha") == b"retry"
        assert store.list(f"{ns}/") == [f"{ns}/chunk/alpha"]

    def test_create_stores_only_where_nothing_is(self, store: ObjectStore, ns: str) -> None:
        assert store.create(f"{ns}/claim", b"first")
        assert not store.create(f"{ns}/claim", b"second")
        assert store.get_bytes(f"{ns}/claim") == b"first"
        assert store.list(f"{ns}/") == [f"{ns}/claim"]

    def test_missing_objects_are_typed(self, store: ObjectStore, ns: str, tmp_path: Path) -> None:
        assert not store.exists(f"{ns}/nothing")
        with pytest.raises(ObjectNotFound):
            store.get_bytes(f"{ns}/nothing")
        with pytest.raises(ObjectNotFound):
            store.size(f"{ns}/nothing")
        target = tmp_path / "downloads" / "out.bin"
        with pytest.raises(ObjectNotFound):
            store.get_file(f"{ns}/nothing", target)
        # Neither the file nor a partial download of it.
        assert not target.parent.exists() or list(target.parent.iterdir()) == []

    def test_a_prefix_is_not_an_object(self, store: ObjectStore, ns: str) -> None:
        store.put_bytes(f"{ns}/dir/file", b"x")
        assert not store.exists(f"{ns}/dir")
        with pytest.raises(ObjectNotFound):
            store.get_bytes(f"{ns}/dir")

    def test_file_round_trip_replaces_the_destination(
        self, store: ObjectStore, ns: str, tmp_path: Path
    ) -> None:
        source = tmp_path / "source.bin"
        source.write_bytes(PAYLOAD)
        store.put_file(f"{ns}/file.bin", source)
        target = tmp_path / "deep" / "er" / "copy.bin"
        target.parent.mkdir(parents=True)
        target.write_bytes(b"stale")
        store.get_file(f"{ns}/file.bin", target)
        assert target.read_bytes() == PAYLOAD
        # No partial download is left beside the target.
        assert os.listdir(target.parent) == ["copy.bin"]

    def test_get_file_creates_missing_folders(self, store: ObjectStore, ns: str, tmp_path: Path) -> None:
        store.put_bytes(f"{ns}/x", b"x")
        store.get_file(f"{ns}/x", tmp_path / "new" / "x")
        assert (tmp_path / "new" / "x").read_bytes() == b"x"

    def test_put_file_of_a_missing_local_file(self, store: ObjectStore, ns: str, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError):
            store.put_file(f"{ns}/x", tmp_path / "absent")
        assert not store.exists(f"{ns}/x")

    def test_list_matches_prefixes_as_strings(self, store: ObjectStore, ns: str) -> None:
        for key in ("a/2", "a/1", "ab/3", "b/4"):
            store.put_bytes(f"{ns}/{key}", key.encode())
        assert store.list(f"{ns}/a/") == [f"{ns}/a/1", f"{ns}/a/2"]
        assert store.list(f"{ns}/a") == [f"{ns}/a/1", f"{ns}/a/2", f"{ns}/ab/3"]
        assert store.list(f"{ns}/c") == []
        assert store.list(f"{ns}/absent/deeper/") == []

    def test_delete_prefix_deletes_only_that_prefix(self, store: ObjectStore, ns: str) -> None:
        for key in ("job-1/segment/00000/p", "job-1/segment/00001/p", "job-10/segment/00000/p"):
            store.put_bytes(f"{ns}/{key}", b"p")
        assert store.delete_prefix(f"{ns}/job-1/") == 2
        assert store.list(f"{ns}/") == [f"{ns}/job-10/segment/00000/p"]
        assert store.delete_prefix(f"{ns}/job-1/") == 0
        # The store still takes writes where the deleted folders were.
        store.put_bytes(f"{ns}/job-1/segment/00000/p", b"again")
        assert store.get_bytes(f"{ns}/job-1/segment/00000/p") == b"again"

    def test_delete_takes_only_the_keys_named(self, store: ObjectStore, ns: str) -> None:
        for key in ("keep", "go/1", "go/2"):
            store.put_bytes(f"{ns}/{key}", b"p")
        assert store.delete([f"{ns}/go/1", f"{ns}/go/2", f"{ns}/never-there"]) == 3
        assert store.list(f"{ns}/") == [f"{ns}/keep"]
        assert store.delete([]) == 0
        with pytest.raises(InvalidObjectKey):
            store.delete(["../outside"])

    def test_sizes_lists_keys_with_their_sizes(self, store: ObjectStore, ns: str) -> None:
        store.put_bytes(f"{ns}/s/b", b"12345")
        store.put_bytes(f"{ns}/s/a", b"")
        store.put_bytes(f"{ns}/t", b"x")
        assert store.sizes(f"{ns}/s/") == {f"{ns}/s/a": 0, f"{ns}/s/b": 5}
        assert list(store.sizes(f"{ns}/")) == [f"{ns}/s/a", f"{ns}/s/b", f"{ns}/t"]

    def test_url_reads_the_object(self, store: ObjectStore, ns: str) -> None:
        store.put_bytes(f"{ns}/url.bin", PAYLOAD)
        url = store.url(f"{ns}/url.bin", expires=timedelta(minutes=5))
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (file: or http: by design)
            assert response.read() == PAYLOAD

    @pytest.mark.parametrize("key", ["", "/etc/passwd", "a/../../b", "../x", "a//b", "a/./b", "a\\b", "a/"])
    def test_keys_that_escape_are_refused(self, store: ObjectStore, key: str) -> None:
        with pytest.raises(InvalidObjectKey):
            store.put_bytes(key, b"x")
        with pytest.raises(InvalidObjectKey):
            store.get_bytes(key)

    def test_delete_everything_is_refused(self, store: ObjectStore) -> None:
        with pytest.raises(InvalidObjectKey):
            store.delete_prefix("")
