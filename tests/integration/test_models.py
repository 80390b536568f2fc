"""Models by name through the pipeline: the API lists and checks them, a Kafka submit naming another fails
its job with model_unknown, and each built-in model a job names is the one its mask comes from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from backdrop.api_client import api_client
from backdrop.sample import write_sample
from backdrop.submit import follow_from_now, submit, wait_for
from base.settings import Settings
from schemas import JobFailed, JobOptions
from tests.integration.api_fixtures import ApiProcess, alphas_by_model, new_api_key
from tests.integration.pipeline_fixtures import own_workers

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def workers(infra: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with own_workers(infra, tmp_path_factory.mktemp("workers")):
        yield infra


def test_the_api_lists_the_served_models_and_refuses_another(api: ApiProcess, infra: Settings) -> None:
    key = new_api_key(infra, "models")
    headers = {"Authorization": f"Bearer {key.secret}"}
    listed = httpx.get(f"{api.base_url}/v1/models", headers=headers).json()
    assert [(m["name"], m["input_size"], m["licence"], m["default"]) for m in listed] == [
        ("selfie", [256, 256], "Apache-2.0", True),
        ("selfie-landscape", [144, 256], "Apache-2.0", False),
    ]
    body = {"source": {"url": "https://example.com/clip.mp4"}, "model": "u2net"}
    refused = httpx.post(f"{api.base_url}/v1/jobs", json=body, headers=headers)
    assert refused.status_code == 422, refused.text
    assert "choose one of: selfie, selfie-landscape" in refused.text


def test_a_kafka_submit_naming_an_unserved_model_fails_with_model_unknown(
    workers: Settings, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp4"
    write_sample(clip, seconds=1, width=160, height=90)
    follower = follow_from_now(workers)
    try:
        job = submit(workers, clip, JobOptions(model="u2net"))
        final = wait_for(follower, job.job_id, timeout_s=120)
    finally:
        follower.close()
    assert isinstance(final, JobFailed), final
    assert (final.code, final.stage) == ("model_unknown", "extract")
    assert "selfie-landscape" in final.message


def test_each_builtin_model_makes_its_own_mask(workers: Settings, api: ApiProcess, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    write_sample(clip, seconds=1, width=320, height=180)
    key = new_api_key(workers, "two-models")
    with api_client(api.base_url, key.secret) as client:
        alphas = alphas_by_model(client, clip, ["selfie", "selfie-landscape"], tmp_path)
    both = alphas["selfie"], alphas["selfie-landscape"]
    assert both[0].shape == both[1].shape
    assert all(0 < a.mean() < 255 for a in both), "each finds a person"
    assert float(np.abs(both[0] - both[1]).mean()) > 1.0, "the two masks are the same: one model ran twice"
