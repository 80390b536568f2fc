"""The claim-check object store: pixels live here, Kafka events carry only the keys.

Two backends pass one contract suite: ``S3Store`` (MinIO or any S3) and ``LocalStore`` (a folder, for
the single-process path and tests). Keys are ``/``-separated relative paths; prefixes match as strings,
the way S3 does. Every write replaces the whole object, so a retried chunk overwrites its own outputs.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import shutil
import uuid
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

from streams.errors import InvalidObjectKey, ObjectNotFound

OCTET_STREAM = "application/octet-stream"
DEFAULT_URL_EXPIRY = timedelta(hours=1)
_CHUNK = 1 << 20


# Prefixes in the uploads bucket. Uploads through the CLI land under SUBMITTED_PREFIX, the API's under
# owners/{key_id}/SUBMITTED_PREFIX (`streams.ownership`); each is announced by its own submit event, so
# its bucket notification must start no second job. Presigned uploads land under
# owners/{key_id}/PRESIGNED_PREFIX/{job_id}/: their notification starts that job, with the options the
# API left at ``pending_submit_key(job_id)`` in the artifacts bucket.
SUBMITTED_PREFIX = "submitted/"
PRESIGNED_PREFIX = "presigned/"


def pending_submit_key(job_id: str) -> str:
    return object_key(job_id, "api", None, "submit.json")


# Every job's objects, in the artifacts bucket.
JOBS_PREFIX = "jobs/"


def job_prefix(job_id: str) -> str:
    """Every object a job writes lies under this prefix, and a job's artifacts may come only from here."""
    return f"{JOBS_PREFIX}{job_id}/"


def in_job(key: str, job_id: str) -> bool:
    """Whether ``key`` is one of the job's own objects (under its prefix, not climbing out with ``..``)."""
    try:
        check_key(key)
    except InvalidObjectKey:
        return False
    return key.startswith(job_prefix(job_id))


def object_key(job_id: str, stage: str, chunk_index: int | None, name: str) -> str:
    """``jobs/{job_id}/{stage}/{chunk:05d}/{name}``; a job-wide object (no chunk) drops the chunk part."""
    if chunk_index is None:
        key = f"jobs/{job_id}/{stage}/{name}"
    elif chunk_index < 0:
        raise InvalidObjectKey(f"chunk index must be 0 or more, got {chunk_index}")
    else:
        # Zero-padded so a listing sorts chunks in order.
        key = f"jobs/{job_id}/{stage}/{chunk_index:05d}/{name}"
    return check_key(key)


def check_key(key: str) -> str:
    """Return ``key`` if it is a relative ``/`` path that stays inside the store, else raise."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise InvalidObjectKey(f"object key {key!r} must be a non-empty relative path with '/' separators")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidObjectKey(f"object key {key!r} has an empty, '.' or '..' segment")
    return key


def check_prefix(prefix: str) -> str:
    """A prefix is a key that may stop anywhere (``jobs/abc`` or ``jobs/abc/``)."""
    if prefix:
        check_key(prefix.removesuffix("/"))
    return prefix


@runtime_checkable
class ObjectStore(Protocol):
    """What stage adapters need from object storage; both backends pass ``store_contract``."""

    def put_bytes(self, key: str, data: bytes, content_type: str = OCTET_STREAM) -> None:
        """Store ``data`` under ``key``, replacing any object there."""

    def create(self, key: str, data: bytes, content_type: str = OCTET_STREAM) -> bool:
        """Store ``data`` under ``key`` only if no object is there, atomically; whether it was stored."""

    def get_bytes(self, key: str) -> bytes:
        """The whole object; ``ObjectNotFound`` if there is none."""

    def put_file(self, key: str, path: Path, content_type: str = OCTET_STREAM) -> None:
        """Upload a local file under ``key`` (streamed, not read into memory)."""

    def get_file(self, key: str, path: Path) -> None:
        """Download to ``path``: streamed to a temporary file beside it, then renamed into place."""

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    def size(self, key: str) -> int:
        """The object's size in bytes; ``ObjectNotFound`` if there is none."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix`` (not empty); returns how many."""

    def delete(self, keys: Iterable[str]) -> int:
        """Delete these objects (a missing one is no error); returns how many keys were given."""

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Keys starting with ``prefix``, sorted."""

    def sizes(self, prefix: str = "") -> dict[str, int]:
        """Keys starting with ``prefix`` with their sizes in bytes, in key order."""

    def url(self, key: str, expires: timedelta = DEFAULT_URL_EXPIRY) -> str:
        """A URL that reads the object without credentials until ``expires`` has passed."""


class LocalStore:
    """Objects as files under ``root``; writes go through a rename, so readers never see half a file."""

    # Temporary files live in the same file system as their targets (os.replace must not cross one).
    _PARTIAL = ".partial"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        (self.root / self._PARTIAL).mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        check_key(key)
        if key.split("/", 1)[0] == self._PARTIAL:
            raise InvalidObjectKey(f"object key {key!r} uses the store's reserved folder {self._PARTIAL!r}")
        return self.root / key

    def _replace_atomically(self, key: str, data: bytes | Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = self.root / self._PARTIAL / uuid.uuid4().hex
        try:
            with partial.open("wb") as out:
                if isinstance(data, Path):
                    with data.open("rb") as source:
                        shutil.copyfileobj(source, out, _CHUNK)
                else:
                    out.write(data)
            try:
                os.replace(partial, target)
            except FileNotFoundError:
                # delete_prefix pruned the empty folder between our mkdir and the rename.
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes, content_type: str = OCTET_STREAM) -> None:
        self._replace_atomically(key, data)

    def put_file(self, key: str, path: Path, content_type: str = OCTET_STREAM) -> None:
        self._replace_atomically(key, path)

    def create(self, key: str, data: bytes, content_type: str = OCTET_STREAM) -> bool:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = self.root / self._PARTIAL / uuid.uuid4().hex
        try:
            partial.write_bytes(data)
            os.link(partial, target)  # fails, atomically, when the target exists
        except FileExistsError:
            return False
        finally:
            partial.unlink(missing_ok=True)
        return True

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFound(f"no object {key!r} in {self.root}") from exc

    def get_file(self, key: str, path: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise ObjectNotFound(f"no object {key!r} in {self.root}")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            with source.open("rb") as src, partial.open("wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
            os.replace(partial, path)
        except FileNotFoundError as exc:
            # Deleted between the check and the read.
            raise ObjectNotFound(f"no object {key!r} in {self.root}") from exc
        finally:
            partial.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(f"no object {key!r} in {self.root}")
        return path.stat().st_size

    def list(self, prefix: str = "") -> builtins.list[str]:
        check_prefix(prefix)
        # Walk only the deepest folder the prefix names, then match the rest as a string, like S3.
        folder = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not folder.is_dir():
            return []
        keys = (path.relative_to(self.root).as_posix() for path in folder.rglob("*") if path.is_file())
        return sorted(key for key in keys if key.startswith(prefix) and key.split("/", 1)[0] != self._PARTIAL)

    def sizes(self, prefix: str = "") -> dict[str, int]:
        found = {}
        for key in self.list(prefix):
            with contextlib.suppress(FileNotFoundError):  # deleted since the listing
                found[key] = (self.root / key).stat().st_size
        return found

    def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise InvalidObjectKey("refusing to delete with an empty prefix: that is the whole store")
        return self.delete(self.list(prefix))

    def delete(self, keys: Iterable[str]) -> int:
        paths = [self._path(key) for key in keys]
        for path in paths:
            path.unlink(missing_ok=True)
        self._prune_empty_folders({path.parent for path in paths})
        return len(paths)

    def url(self, key: str, expires: timedelta = DEFAULT_URL_EXPIRY) -> str:
        # A file URL does not expire; the argument is accepted so callers need not know the backend.
        return self._path(key).as_uri()

    def _prune_empty_folders(self, folders: set[Path]) -> None:
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            current = folder
            while current != self.root and current.is_dir() and not any(current.iterdir()):
                try:
                    current.rmdir()
                except OSError:
                    break  # a concurrent writer just put something here
                current = current.parent
