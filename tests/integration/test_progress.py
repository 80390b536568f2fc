"""Progress a person can read, through the API: percent, frames, speed and ETA on the SSE stream and in
GET /v1/jobs/{id}; percent never goes back and reaches 100 only with completion; the ETA given halfway is
within a factor of two of the time the job then took."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from backdrop.api_client import api_client, follow, upload
from backdrop.sample import write_sample
from base.settings import Settings
from schemas import ChunkDone, JobCompleted, JobOptions, LifecycleEvent, StageProgress
from tests.integration.api_fixtures import ApiProcess, new_api_key
from tests.integration.pipeline_fixtures import own_workers

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def workers(infra: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with own_workers(infra, tmp_path_factory.mktemp("workers")):
        yield infra


def test_percent_frames_and_an_eta_that_holds(workers: Settings, api: ApiProcess, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    frames = write_sample(clip, seconds=16, width=320, height=180, fps=Fraction(25))
    key = new_api_key(workers, "progress")
    seen: list[tuple[float, LifecycleEvent]] = []
    polled: list[dict[str, object]] = []
    with api_client(api.base_url, key.secret) as client:
        job = upload(client, clip, JobOptions(background="#20c040"))

        def note(event: LifecycleEvent) -> None:
            seen.append((time.monotonic(), event))
            if isinstance(event, StageProgress | ChunkDone) and len(polled) < 3:
                polled.append(client.get(f"/v1/jobs/{job['id']}").json()["progress"])

        final = follow(client, job["id"], note, timeout_s=600)
        assert isinstance(final, JobCompleted), final
        ended = time.monotonic()
        done = client.get(f"/v1/jobs/{job['id']}").json()["progress"]

    progress = [(at, e.progress) for at, e in seen if isinstance(e, StageProgress | ChunkDone) and e.progress]
    assert len(progress) >= 8, [e.event_type for _, e in seen]
    percents = [p.percent for _, p in progress]
    assert percents == sorted(percents), percents
    assert max(percents) <= 99
    assert (done["percent"], done["frames_done"], done["frames_total"], done["eta_s"]) == (
        100,
        frames,
        frames,
        0,
    )
    assert all(0 <= p["percent"] < 100 for p in polled), polled
    assert all(p.frames_total == frames for _, p in progress)
    counted = [p.frames_done for _, p in progress]
    assert counted == sorted(counted), counted
    # The stream ends at `completed`, and the last chunks' `chunk_done` may come after it: assemble
    # completes the job on the first task that finds every segment stored, which can be before encode
    # has published the events of the chunks it has yet to check. The GET above shows every frame.
    assert frames // 2 <= counted[-1] <= frames, counted
    assert progress[-1][1].fps

    halfway_at, halfway = next((at, p) for at, p in progress if p.percent >= 50)
    assert halfway.eta_s is not None
    took = ended - halfway_at
    log.info("at %d%%: ETA %.1f s, the job took %.1f s more", halfway.percent, halfway.eta_s, took)
    assert took / 2 <= halfway.eta_s <= took * 2, (halfway, took)
