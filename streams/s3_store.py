"""The object store on S3 (MinIO locally) through the ``minio`` client."""

from __future__ import annotations

import builtins
import io
import os
import typing
import urllib.parse
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, S3Error, ServerError

from base.settings import Settings
from streams.errors import InvalidObjectKey, ObjectNotFound, RetryableError, StoreRefused
from streams.store import DEFAULT_URL_EXPIRY, OCTET_STREAM, check_key, check_prefix

_CHUNK = 1 << 20
_MISSING = frozenset({"NoSuchKey", "NoSuchObject", "ResourceNotFound"})
# Keys the server will never take, whatever is retried.
_BAD_KEY = frozenset({"XMinioInvalidObjectName", "InvalidObjectName", "KeyTooLongError"})
# S3 error codes that mean "busy or briefly broken", worth a retry; anything else is a refusal.
_TRANSIENT = frozenset(
    {"InternalError", "SlowDown", "ServiceUnavailable", "RequestTimeout", "XMinioServerNotInitialized"}
)


class S3Store:
    """Objects in one bucket; every call is one request (or one multipart upload), so retries are safe."""

    def __init__(self, client: Minio, bucket: str, signer: Minio | None = None) -> None:
        self.client = client
        self.bucket = bucket
        # Presigned URLs are signed for the host a client will use, which may not be ours.
        self.signer = signer or client

    def put_bytes(self, key: str, data: bytes, content_type: str = OCTET_STREAM) -> None:
        with self._errors(check_key(key)):
            self.client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type=content_type)

    def create(self, key: str, data: bytes, content_type: str = OCTET_STREAM) -> bool:
        # A conditional PUT (If-None-Match: *; MinIO and S3 honour it). put_object would turn that header
        # into user metadata, so the request goes through the client's own PutObject call.
        headers: dict[str, str | list[str] | tuple[str]] = {
            "If-None-Match": "*",
            "Content-Type": content_type,
        }
        try:
            with self._errors(check_key(key)):
                self.client._put_object(self.bucket, key, data, headers)
        except StoreRefused as exc:
            if isinstance(exc.__cause__, S3Error) and exc.__cause__.code == "PreconditionFailed":
                return False
            raise
        return True

    def put_file(self, key: str, path: Path, content_type: str = OCTET_STREAM) -> None:
        check_key(key)
        # Opened here, outside the error mapping, so a missing local file is not mistaken for the network.
        with path.open("rb") as source, self._errors(key):
            size = os.fstat(source.fileno()).st_size
            self.client.put_object(self.bucket, key, source, size, content_type=content_type)

    def put_stream(
        self, key: str, source: typing.BinaryIO, size: int, content_type: str = OCTET_STREAM
    ) -> None:
        """Stream ``size`` bytes from an open file (a multipart upload above 5 MiB parts)."""
        with self._errors(check_key(key)):
            self.client.put_object(self.bucket, key, source, size, content_type=content_type)

    def get_bytes(self, key: str) -> bytes:
        with self._errors(check_key(key)):
            response = self.client.get_object(self.bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def get_file(self, key: str, path: Path) -> None:
        check_key(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            with self._errors(key):
                response = self.client.get_object(self.bucket, key)
                try:
                    with partial.open("wb") as out:
                        for block in response.stream(_CHUNK):
                            out.write(block)
                finally:
                    response.close()
                    response.release_conn()
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)

    def stream(self, key: str, offset: int = 0, length: int = 0) -> Iterator[bytes]:
        """The object's bytes from ``offset`` (``length`` of them, or to the end when 0), in blocks; the
        request is made here, so a missing object raises before the first block is asked for."""
        with self._errors(check_key(key)):
            response = self.client.get_object(self.bucket, key, offset=offset, length=length)
        return self._blocks(key, response)

    def _blocks(self, key: str, response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
        try:
            with self._errors(key):
                yield from response.stream(_CHUNK)
        finally:
            response.close()
            response.release_conn()

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except ObjectNotFound:
            return False
        return True

    def size(self, key: str) -> int:
        with self._errors(check_key(key)):
            stat = self.client.stat_object(self.bucket, key)
        return stat.size or 0

    def list(self, prefix: str = "") -> builtins.list[str]:
        with self._errors(check_prefix(prefix)):
            names = [
                item.object_name
                for item in self.client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
                if item.object_name is not None
            ]
        return sorted(names)

    def sizes(self, prefix: str = "") -> dict[str, int]:
        with self._errors(check_prefix(prefix)):
            found = {
                item.object_name: item.size or 0
                for item in self.client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
                if item.object_name is not None
            }
        return dict(sorted(found.items()))

    def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise InvalidObjectKey("refusing to delete with an empty prefix: that is the whole bucket")
        return self.delete(self.list(prefix))

    def delete(self, keys: Iterable[str]) -> int:
        chosen = [check_key(key) for key in keys]
        if not chosen:
            return 0
        with self._errors(chosen[0]):
            # remove_objects is lazy: nothing is deleted until its error iterator is consumed.
            failures = list(self.client.remove_objects(self.bucket, (DeleteObject(key) for key in chosen)))
        if failures:
            first = failures[0]
            error_type = RetryableError if first.code in _TRANSIENT else StoreRefused
            raise error_type(
                f"could not delete {len(failures)} of {len(chosen)} objects in bucket {self.bucket!r}: "
                f"{first.code} {first.message} ({first.name})"
            )
        return len(chosen)

    def url(self, key: str, expires: timedelta = DEFAULT_URL_EXPIRY) -> str:
        # Signed locally (the region is configured), so this makes no request and cannot see a missing key.
        with self._errors(check_key(key)):
            return self.signer.presigned_get_object(self.bucket, key, expires=expires)

    def upload_url(self, key: str, expires: timedelta = DEFAULT_URL_EXPIRY) -> str:
        """A presigned PUT for ``key``; like ``url`` it is signed locally."""
        with self._errors(check_key(key)):
            return self.signer.presigned_put_object(self.bucket, key, expires=expires)

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """Map the client's failures onto missing / retry / refused."""
        where = f"{key!r} in bucket {self.bucket!r}"
        try:
            yield
        except S3Error as exc:
            if exc.code in _MISSING:
                raise ObjectNotFound(f"no object {where}") from exc
            if exc.code in _BAD_KEY:
                raise InvalidObjectKey(f"the object store refuses the key {where}: {exc.message}") from exc
            status = exc.response.status if exc.response is not None else 0
            if exc.code in _TRANSIENT or status >= 500:
                raise RetryableError(f"object store busy on {where}: {exc.code} {exc.message}") from exc
            raise StoreRefused(
                f"object store refused {where}: {exc.code} {exc.message}; check the credentials and that "
                "the bucket exists (`backdrop infra up` creates it)"
            ) from exc
        except (ServerError, InvalidResponseError, urllib3.exceptions.HTTPError, ConnectionError) as exc:
            raise RetryableError(f"object store unreachable for {where}: {exc}") from exc


def s3_store(settings: Settings, bucket: str | None = None) -> S3Store:
    """An ``S3Store`` on the configured server; the artifacts bucket unless another is named."""
    # Short connect timeout and few transport retries: a dead store should surface as RetryableError
    # quickly, and the caller's RetryPolicy decides how long to keep trying.
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=5.0, read=60.0),
        retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)),
        maxsize=10,
    )
    client = Minio(
        settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
        http_client=http,
    )
    signer = None
    if settings.s3_public_url:
        public = urllib.parse.urlsplit(settings.s3_public_url)
        signer = Minio(
            public.netloc,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=public.scheme == "https",
            region=settings.s3_region,
        )
    return S3Store(client, bucket or settings.artifacts_bucket, signer)
