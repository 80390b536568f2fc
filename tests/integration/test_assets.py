"""Backgrounds as owned assets: uploaded once with POST /v1/assets, named asset:ID by the key's jobs, out of
reach of every other key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from backdrop.api_client import api_client, download_output, follow, upload
from backdrop.sample import write_sample
from base.settings import Settings
from schemas import JobCompleted, JobOptions
from tests.integration.api_fixtures import ApiProcess, new_api_key
from tests.integration.pipeline_fixtures import own_workers, read_video

pytestmark = pytest.mark.integration
BLUE = (40, 80, 200)  # RGB


@pytest.fixture(scope="module")
def workers(infra: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with own_workers(infra, tmp_path_factory.mktemp("workers")):
        yield infra


def test_an_uploaded_background_is_the_keys_own(workers: Settings, api: ApiProcess, tmp_path: Path) -> None:
    backdrop = tmp_path / "sea.png"
    cv2.imwrite(str(backdrop), np.full((90, 160, 3), BLUE[::-1], np.uint8))
    clip = tmp_path / "clip.mp4"
    write_sample(clip, seconds=1, width=320, height=180)
    owner, other = new_api_key(workers, "asset-owner"), new_api_key(workers, "asset-other")
    with api_client(api.base_url, owner.secret) as client:
        with backdrop.open("rb") as file:
            created = client.post("/v1/assets", files={"file": ("sea.png", file, "image/png")})
        assert created.status_code == 201, created.text
        asset = created.json()
        assert (asset["kind"], asset["filename"], asset["background"]) == (
            "image",
            "sea.png",
            f"asset:{asset['id']}",
        )
        assert [a["id"] for a in client.get("/v1/assets").json()] == [asset["id"]]

        job = upload(client, clip, JobOptions(background=asset["background"]))
        assert job["options"]["background"].endswith(f"/assets/{asset['id']}/sea.png")
        final = follow(client, job["id"], lambda _: None, timeout_s=300)
        assert isinstance(final, JobCompleted), final
        out = tmp_path / "out.mp4"
        download_output(client, job["id"], out)
        corner = read_video(out).frames[:, :20, :20].reshape(-1, 3).mean(axis=0)  # no person up there
        assert np.abs(corner - BLUE).max() < 12, corner

        with api_client(api.base_url, other.secret) as stranger:
            body = {"source": {"url": "https://example.com/a.mp4"}, "background": asset["background"]}
            refused = stranger.post("/v1/jobs", json=body)
            assert refused.status_code == 422, refused.text
            assert "no asset" in refused.text
            assert stranger.get("/v1/assets").json() == []
            assert stranger.delete(f"/v1/assets/{asset['id']}").status_code == 404

        assert client.delete(f"/v1/assets/{asset['id']}").status_code == 204
        assert client.get("/v1/assets").json() == []
        assert client.delete(f"/v1/assets/{asset['id']}").status_code == 404


def test_an_asset_must_be_an_image_or_a_video(api: ApiProcess, infra: Settings) -> None:
    key = new_api_key(infra, "asset-text")
    answer = httpx.post(
        f"{api.base_url}/v1/assets",
        headers={"Authorization": f"Bearer {key.secret}"},
        files={"file": ("notes.txt", b"hello", "text/plain")},
    )
    assert answer.status_code == 422, answer.text
    assert "neither an image" in answer.text
