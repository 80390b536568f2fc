"""A job's source URL downloaded to a local file through the guarded client, within size and time limits.

Failures are sorted by whether trying again could help. The job fails at once (an InputError) for a
refused address, an HTTP error that names the request as the problem (404, 403, …), a body over the
limit, a host that does not resolve, a refused connection or a bad certificate. Timeouts, dropped
connections, a temporary DNS failure and the "try later" statuses (408, 425, 429, 500, 502, 503, 504)
raise SourceUnavailable, a RetryableError: the worker backs off and tries again a few times, since a
busy or restarting server is the common cause, and only then fails the job. All the tries for one
job share one deadline (``UrlFetcher``). Adapter code of the extract worker, kept out of the extract core.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import httpx

from base.errors import InputEmpty, LimitExceeded, UrlUnreachable
from base.guarded_http import TransferDeadline, client_for, stream_url, transfer_deadline
from base.settings import Settings
from base.ssrf import describe_url
from streams.errors import RetryableError

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")


class SourceUnavailable(RetryableError):
    """The source URL failed in a way a later try may not (timeout, reset, 503): retried, then fails."""

    code = "url_unavailable"


def url_suffix(url: str) -> str:
    """The file extension of the URL's path (``.mp4``), or ``.bin``; never anything odd for an object key."""
    suffix = PurePosixPath(httpx.URL(url).path).suffix.lower()
    return suffix if _SUFFIX.fullmatch(suffix) else ".bin"


class UrlFetcher:
    """Downloads job sources; all the tries for one job share one deadline (``url_deadline_s``).

    The worker retries a SourceUnavailable in place, without polling Kafka, so the tries together must
    end well within max.poll.interval.ms; each try gets only what is left of the deadline.
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._first_try: dict[str, float] = {}

    def fetch(self, job_id: str, url: str, dest: Path) -> int:
        """Download ``url`` to ``dest`` for ``job_id``; returns the byte count."""
        now, deadline = self.clock(), self.settings.url_deadline_s
        # Forget jobs whose tries ended elsewhere (dead-lettered, or moved to another worker).
        self._first_try = {job: t for job, t in self._first_try.items() if now - t < 2 * deadline}
        left = deadline - (now - self._first_try.setdefault(job_id, now))
        try:
            if left <= 0:
                raise UrlUnreachable(
                    f"gave up on {describe_url(url)}: still failing after {deadline:g} s of tries "
                    "(BACKDROP_URL_DEADLINE_S); try again later or upload the file instead"
                )
            with client_for(self.settings) as client:
                size = download(client, url, dest, self.settings.url_max_bytes, left, self.clock)
        except SourceUnavailable:
            raise  # the worker tries again, within what is left
        except BaseException:
            self._first_try.pop(job_id, None)
            raise
        self._first_try.pop(job_id, None)
        return size


def download(
    client: httpx.Client,
    url: str,
    dest: Path,
    max_bytes: int,
    deadline_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Stream ``url`` into ``dest`` (removed again on any failure); returns the byte count."""
    what = describe_url(url)
    try:
        # The deadline bounds every wait on the connection too: a server dripping a byte at a time
        # meets it on the dot, not one read timeout later.
        with _errors_as_ours(what), transfer_deadline(deadline_s):
            return _stream_to_file(client, url, dest, max_bytes, deadline_s, clock, what)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise


@contextmanager
def _errors_as_ours(what: str) -> Iterator[None]:
    """httpx's errors → the job fails now (InputError) or is tried again (SourceUnavailable)."""
    try:
        yield
    except TransferDeadline as exc:
        raise UrlUnreachable(
            f"downloading {what} did not finish in time (BACKDROP_URL_DEADLINE_S); use a faster host or "
            "upload the file"
        ) from exc
    except httpx.TimeoutException as exc:
        raise SourceUnavailable(f"{what} timed out ({type(exc).__name__}); will try again") from exc
    except httpx.ConnectError as exc:
        if _temporary_dns_failure(exc):
            raise SourceUnavailable(f"{what}: DNS lookup failed for now ({exc}); will try again") from exc
        raise UrlUnreachable(
            f"cannot connect to {what} ({exc}); check the URL and that the server is up"
        ) from exc
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
        raise SourceUnavailable(f"{what}: the connection broke ({exc}); will try again") from exc
    except httpx.HTTPError as exc:
        raise UrlUnreachable(f"cannot download {what} ({type(exc).__name__}: {exc})") from exc


def _stream_to_file(
    client: httpx.Client,
    url: str,
    dest: Path,
    max_bytes: int,
    deadline_s: float,
    clock: Callable[[], float],
    what: str,
) -> int:
    started = clock()
    with stream_url(client, url) as response:
        _check_status(response, what)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise LimitExceeded(_too_large(what, f"announces {int(declared):,} bytes", max_bytes))
        written = 0
        with dest.open("wb") as out:
            # iter_bytes undoes any Content-Encoding, so a small gzip bomb is counted at its real size.
            for chunk in response.iter_bytes():
                written += len(chunk)
                if written > max_bytes:
                    raise LimitExceeded(_too_large(what, "sent more", max_bytes))
                elapsed = clock() - started
                if elapsed > deadline_s:
                    raise UrlUnreachable(
                        f"downloading {what} did not finish in time (BACKDROP_URL_DEADLINE_S): "
                        f"{written:,} bytes in {elapsed:.0f} s; use a faster host or upload the file"
                    )
                out.write(chunk)
        if written == 0:
            raise InputEmpty(f"{what} answered {response.status_code} with an empty body; check the URL")
    return written


def _check_status(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if response.is_success:
        return
    text = f"{what} answered {status} {response.reason_phrase}".rstrip()
    if status in RETRY_STATUSES:
        raise SourceUnavailable(f"{text}; will try again")
    if response.is_redirect:
        raise UrlUnreachable(f"{text} with no usable Location; give the final URL")
    raise UrlUnreachable(f"{text}; check that the URL is right and publicly readable")


def _too_large(what: str, how: str, max_bytes: int) -> str:
    return (
        f"{what} {how} than the limit of {max_bytes:,} bytes (BACKDROP_URL_MAX_BYTES); cut the video, "
        "or ask the operator to raise the limit"
    )


def _temporary_dns_failure(exc: BaseException) -> bool:
    """Whether a connect error comes from the resolver's 'try again' answer (EAI_AGAIN)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return cause.errno == socket.EAI_AGAIN
        cause = cause.__cause__
    return False
