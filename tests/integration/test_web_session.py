"""The web app's HTTP side: a key traded for a session cookie that only this site's pages may use, and a
job's artifacts served through the API with byte ranges (the page never leaves its origin)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine

from api.keys import revoke_key
from backdrop.api_client import api_client, follow, upload
from backdrop.sample import write_sample
from base.settings import Settings
from schemas import JobCompleted, JobOptions
from tests.integration.api_fixtures import ApiProcess, new_api_key, wait_until
from tests.integration.pipeline_fixtures import own_workers

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def workers(infra: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with own_workers(infra, tmp_path_factory.mktemp("workers")):
        yield infra


@contextmanager
def _signed_in(base_url: str, secret: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        answer = client.post("/v1/session", headers={"Authorization": f"Bearer {secret}"})
        assert answer.status_code == 200, answer.text
        yield client


def test_the_page_may_reach_only_its_own_origin(api: ApiProcess) -> None:
    page = httpx.get(f"{api.base_url}/", timeout=30)
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "{{" not in page.text, "the page's choices were filled in"
    assert httpx.get(f"{api.base_url}/web/app.js", timeout=30).status_code == 200


def test_a_session_acts_as_its_key_for_this_site_only(infra: Settings, api: ApiProcess) -> None:
    key = new_api_key(infra, "web-session")
    with httpx.Client(base_url=api.base_url, timeout=30) as anonymous:
        assert anonymous.get("/v1/session").json() == {"key_id": None}
        assert anonymous.get("/v1/jobs").status_code == 401
        wrong = anonymous.post("/v1/session", headers={"Authorization": "Bearer bd_nope"})
        assert wrong.status_code == 401

    with _signed_in(api.base_url, key.secret) as browser:
        cookie = browser.cookies.jar
        [made] = list(cookie)
        assert made.name == "backdrop_session"
        assert made.has_nonstandard_attr("HttpOnly")
        assert made.expires is None, "a browser-session cookie: no Max-Age or Expires"
        assert key.secret not in made.value
        assert browser.get("/v1/session").json() == {"key_id": key.id}
        assert browser.get("/v1/jobs").status_code == 200
        # A page on another site that gets the browser to send the cookie is not signed in.
        for site in ("cross-site", "same-site"):
            foreign = browser.get("/v1/jobs", headers={"Sec-Fetch-Site": site})
            assert foreign.status_code == 401, site
        assert browser.get("/v1/jobs", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200

        assert browser.delete("/v1/session").status_code == 204
        assert browser.get("/v1/jobs").status_code == 401
        browser.cookies.set("backdrop_session", made.value or "")
        assert browser.get("/v1/jobs").status_code == 401, "a closed session stays closed"

    # Revoking the key ends its sessions at once (after the API's short key cache).
    with _signed_in(api.base_url, key.secret) as browser:
        engine = create_engine(infra.postgres_dsn)
        with engine.begin() as conn:
            assert revoke_key(conn, key.id)
        engine.dispose()
        wait_until(lambda: browser.get("/v1/jobs").status_code == 401, timeout=30, what="the session to end")


def test_artifacts_come_through_the_api_with_ranges(
    workers: Settings, api: ApiProcess, tmp_path: Path
) -> None:
    owner, other = new_api_key(workers, "web-files"), new_api_key(workers, "web-files-other")
    still = tmp_path / "portrait.png"
    write_sample(still, width=320, height=240)
    with api_client(api.base_url, owner.secret) as client:
        job = upload(client, still, JobOptions(background="transparent", output_format="png", mask=True))
        final = follow(client, job["id"], lambda _: None, timeout_s=180)
        assert isinstance(final, JobCompleted), final
        artifacts = client.get(f"/v1/jobs/{job['id']}").json()["artifacts"]
        output = next(a for a in artifacts if a["kind"] == "output")
        assert output["href"] == f"/v1/jobs/{job['id']}/files/{output['key'].split('/', 2)[2]}"
        whole = httpx.get(output["url"], timeout=30).content

        through = client.get(output["href"])
        assert through.status_code == 200
        assert through.content == whole
        assert through.headers["content-type"] == "image/png"
        assert through.headers["accept-ranges"] == "bytes"
        size = len(whole)
        for asked, first, last in [
            ("bytes=0-99", 0, 99),
            ("bytes=100-", 100, size - 1),
            ("bytes=-10", size - 10, size - 1),
        ]:
            part = client.get(output["href"], headers={"Range": asked})
            assert part.status_code == 206, asked
            assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
            assert part.content == whole[first : last + 1], asked
        past = client.get(output["href"], headers={"Range": f"bytes={size}-"})
        assert past.status_code == 416
        assert past.headers["content-range"] == f"bytes */{size}"
        for artifact in artifacts:
            assert client.get(artifact["href"]).status_code == 200, artifact["kind"]

        # Only listed artifacts: not the job's intermediates, not a path that climbs out.
        prefix = f"/v1/jobs/{job['id']}/files"
        assert client.get(f"{prefix}/extract/00000/frames.npz").status_code == 404
        assert client.get(f"{prefix}/../../owners/x").status_code == 404

    with api_client(api.base_url, other.secret) as stranger:
        assert stranger.get(output["href"]).status_code == 404
