"""Jobs whose source is a URL: the extract worker downloads it through the SSRF guard, within limits.

The sources are served over HTTPS from 127.0.0.1 (a submitted URL must be https), with a test CA
passed through BACKDROP_URL_CA_FILE; the worker reaches them only when 127.0.0.1 is allow-listed.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from fractions import Fraction
from ipaddress import ip_network
from pathlib import Path

import pytest

from agents.workers.context import StageContext, source_key
from agents.workers.extract import ExtractHandler
from agents.workers.url_source import SourceUnavailable, UrlFetcher, download, url_suffix
from backdrop.sample import write_sample
from base.errors import InputEmpty, InputError, LimitExceeded, UrlRefused, UrlUnreachable
from base.guarded_http import guarded_client
from base.settings import Settings
from schemas import JobAccepted, JobOptions, SubmitJob, UrlSource, new_job_id
from streams.errors import RetryableError
from streams.s3_store import s3_store
from tests.local_http import LocalServer, Route, self_signed, serving

pytestmark = pytest.mark.integration

LOCAL = (ip_network("127.0.0.1/32"),)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("url-source") / "clip.mp4"
    write_sample(path, seconds=1, width=320, height=180, fps=Fraction(24))
    return path.read_bytes()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server(clip: bytes, tls: tuple[ssl.SSLContext, Path]) -> Iterator[LocalServer]:
    routes = {
        "/clip.mp4": Route(body=clip, headers=(("Content-Type", "video/mp4"),)),
        "/streamed.mp4": Route(body=clip, length=False),
        "/to-metadata": Route(302, headers=(("Location", "http://169.254.169.254/latest/meta-data/"),)),
        "/to-clip": Route(302, headers=(("Location", "/clip.mp4"),)),
        "/missing.mp4": Route(404, b"no such file"),
        "/busy.mp4": Route(503, b"try later"),
        "/empty.mp4": Route(200, b""),
        "/slow.mp4": Route(body=clip, delay_s=2.0),
        "/drip.mp4": Route(body=clip[:600], drip_s=0.05),
    }
    with serving(routes, tls=tls[0]) as running:
        yield running


def _settings(base: Settings, ca_file: Path, *, allow: bool = True, **overrides: object) -> Settings:
    return base.model_copy(
        update={"url_allow_networks": LOCAL if allow else (), "url_ca_file": ca_file, **overrides}
    )


def _submit(url: str) -> SubmitJob:
    return SubmitJob(
        event_type="submit", job_id=new_job_id(), source=UrlSource(url=url), options=JobOptions()
    )


def _handler(settings: Settings, cache: Path) -> ExtractHandler:
    return ExtractHandler(StageContext(settings, s3_store(settings), cache))


def test_the_extract_worker_fetches_an_allow_listed_url(
    infra: Settings, server: LocalServer, tls: tuple[ssl.SSLContext, Path], clip: bytes, tmp_path: Path
) -> None:
    settings = _settings(infra, tls[1])
    submit = _submit(server.url("/to-clip"))
    handled = _handler(settings, tmp_path).handle(submit)
    accepted = handled.events[0].event
    assert isinstance(accepted, JobAccepted)
    assert accepted.media.width == 320
    assert accepted.source == submit.source
    assert s3_store(infra).get_bytes(source_key(submit.job_id, ".bin")) == clip
    assert [r.path for r in server.requests] == ["/to-clip", "/clip.mp4"]
    assert list(tmp_path.iterdir()) == []  # the download is not left behind


def test_without_the_allow_list_the_job_fails_with_the_ssrf_code(
    infra: Settings, server: LocalServer, tls: tuple[ssl.SSLContext, Path], tmp_path: Path
) -> None:
    handler = _handler(_settings(infra, tls[1], allow=False), tmp_path)
    with pytest.raises(UrlRefused) as caught:
        handler.handle(_submit(server.url("/clip.mp4")))
    # An InputError: the worker publishes `failed` with this code and moves on (streams/worker.py).
    assert isinstance(caught.value, InputError)
    assert caught.value.code == "input_url_refused"
    assert "127.0.0.1 (loopback)" in caught.value.message
    assert server.requests == []


def test_a_redirect_to_the_metadata_service_is_refused(
    infra: Settings, server: LocalServer, tls: tuple[ssl.SSLContext, Path], tmp_path: Path
) -> None:
    with pytest.raises(UrlRefused, match="cloud metadata"):
        _handler(_settings(infra, tls[1]), tmp_path).handle(_submit(server.url("/to-metadata")))


@pytest.mark.parametrize(
    ("path", "how"),
    [("/clip.mp4", "announces"), ("/streamed.mp4", "sent more")],
    ids=["announced", "counted"],
)
def test_a_body_over_the_limit_fails_clearly_and_leaves_nothing(
    infra: Settings,
    server: LocalServer,
    tls: tuple[ssl.SSLContext, Path],
    tmp_path: Path,
    path: str,
    how: str,
) -> None:
    settings = _settings(infra, tls[1], url_max_bytes=1000)
    dest = tmp_path / "source.mp4"
    with pytest.raises(LimitExceeded, match=f"{how}.*BACKDROP_URL_MAX_BYTES") as caught:
        UrlFetcher(settings).fetch(new_job_id(), server.url(path), dest)
    assert caught.value.code == "input_limit_exceeded"
    assert not dest.exists()


@pytest.mark.parametrize(
    ("path", "error", "code"),
    [
        ("/missing.mp4", UrlUnreachable, "input_url_unreachable"),
        ("/empty.mp4", InputEmpty, "input_empty"),
        ("/busy.mp4", SourceUnavailable, "url_unavailable"),
    ],
)
def test_http_failures_map_to_clear_codes(
    infra: Settings,
    server: LocalServer,
    tls: tuple[ssl.SSLContext, Path],
    tmp_path: Path,
    path: str,
    error: type[Exception],
    code: str,
) -> None:
    with pytest.raises(error) as caught:
        UrlFetcher(_settings(infra, tls[1])).fetch(new_job_id(), server.url(path), tmp_path / "x.mp4")
    assert getattr(caught.value, "code", None) == code
    assert not (tmp_path / "x.mp4").exists()


def test_a_server_that_does_not_answer_is_retried_later(
    infra: Settings, server: LocalServer, tls: tuple[ssl.SSLContext, Path], tmp_path: Path
) -> None:
    settings = _settings(infra, tls[1], url_timeout_s=0.3)
    with pytest.raises(SourceUnavailable, match="timed out") as caught:
        UrlFetcher(settings).fetch(new_job_id(), server.url("/slow.mp4"), tmp_path / "x.mp4")
    assert isinstance(caught.value, RetryableError)


def test_the_whole_download_has_a_deadline(
    server: LocalServer, tls: tuple[ssl.SSLContext, Path], tmp_path: Path
) -> None:
    ticks = iter(range(100))
    with (
        guarded_client(LOCAL, 5, tls[1]) as client,
        pytest.raises(UrlUnreachable, match="did not finish in time"),
    ):
        download(client, server.url("/clip.mp4"), tmp_path / "x.mp4", 10**9, 0.5, clock=lambda: next(ticks))


def test_a_server_sending_a_byte_at_a_time_meets_the_deadline(
    infra: Settings, server: LocalServer, tls: tuple[ssl.SSLContext, Path], tmp_path: Path
) -> None:
    # The attack: each byte arrives well within the read timeout, so no read ever times out, and the
    # deadline was checked only between 1 MiB blocks: the worker was held for as long as the server liked.
    settings = _settings(infra, tls[1], url_timeout_s=1.0, url_deadline_s=0.5)
    started = time.monotonic()
    with pytest.raises(UrlUnreachable, match="did not finish in time"):
        UrlFetcher(settings).fetch(new_job_id(), server.url("/drip.mp4"), tmp_path / "x.mp4")
    # The deadline and some slack (the TLS handshake, the test server's thread); the drip takes 30 s.
    assert time.monotonic() - started < 0.5 + 2.0


def test_the_tries_for_one_job_share_one_deadline(
    infra: Settings, server: LocalServer, tls: tuple[ssl.SSLContext, Path], tmp_path: Path
) -> None:
    """The worker retries in place without polling Kafka: all tries must end within the deadline."""
    now = [0.0]
    fetcher = UrlFetcher(_settings(infra, tls[1], url_deadline_s=60.0), clock=lambda: now[0])
    for _ in range(2):
        with pytest.raises(SourceUnavailable):
            fetcher.fetch("job_a", server.url("/busy.mp4"), tmp_path / "a.mp4")
        now[0] += 35.0
    with pytest.raises(UrlUnreachable, match="after 60 s of tries"):
        fetcher.fetch("job_a", server.url("/busy.mp4"), tmp_path / "a.mp4")
    # Another job has its own deadline; after the failure job_a starts afresh too.
    assert fetcher.fetch("job_b", server.url("/clip.mp4"), tmp_path / "b.mp4") > 0
    assert fetcher.fetch("job_a", server.url("/clip.mp4"), tmp_path / "a.mp4") > 0
    assert len(server.requests) == 4


def test_the_local_file_name_takes_a_plain_suffix_only() -> None:
    assert url_suffix("https://example.com/a/Talk.MOV?sig=1") == ".mov"
    assert url_suffix("https://example.com/download") == ".bin"
    assert url_suffix("https://example.com/x.mp4%2F..%2Fetc") == ".bin"
