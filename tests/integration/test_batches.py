"""Batches: several files in one upload become one job each, read together at GET /v1/batches/{id} and
followed together on one SSE stream that ends when every job has ended."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path

import httpx
import orjson
import pytest
from httpx_sse import connect_sse

from backdrop.sample import write_sample
from base.settings import Settings
from tests.integration.api_fixtures import ApiProcess, new_api_key
from tests.integration.pipeline_fixtures import own_workers

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def workers(infra: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with own_workers(infra, tmp_path_factory.mktemp("workers")):
        yield infra


def _follow(
    client: httpx.Client, path: str, after: str | None = None
) -> list[tuple[str, str, dict[str, object]]]:
    """(id, type, data) of every event until the server ends the stream."""
    headers = {"Last-Event-ID": after} if after else {}
    with connect_sse(client, "GET", path, headers=headers, timeout=300) as source:
        assert source.response.status_code == 200, source.response.read()
        return [(sse.id, sse.event, orjson.loads(sse.data)) for sse in source.iter_sse() if sse.data]


def test_three_stills_and_a_video_in_one_upload(workers: Settings, api: ApiProcess, tmp_path: Path) -> None:
    files = [tmp_path / f"still-{i}.png" for i in range(3)] + [tmp_path / "clip.mp4"]
    for i, still in enumerate(files[:3]):
        write_sample(still, width=160 + 32 * i, height=120)
    write_sample(files[3], seconds=2, width=320, height=180, fps=Fraction(25))
    key = new_api_key(workers, "batch")
    headers = {"Authorization": f"Bearer {key.secret}"}
    with httpx.Client(base_url=api.base_url, headers=headers, timeout=60) as client:
        with ExitStack() as stack:
            parts = [("file", (f.name, stack.enter_context(f.open("rb")))) for f in files]
            started = client.post("/v1/uploads", files=parts, data={"background": "#2050a0"})
        assert started.status_code == 202, started.text
        batch = started.json()
        jobs = [job["id"] for job in batch["jobs"]]
        assert len(jobs) == 4
        assert {job["batch_id"] for job in batch["jobs"]} == {batch["id"]}

        events = _follow(client, batch["links"]["events"])  # ends by itself once all four have ended
        ends = {
            data["job_id"]: kind for _, kind, data in events if kind in ("completed", "failed", "cancelled")
        }
        assert ends == dict.fromkeys(jobs, "completed"), ends
        assert [int(event_id) for event_id, _, _ in events] == sorted(int(e) for e, _, _ in events)

        done = client.get(f"/v1/batches/{batch['id']}").json()
        assert (done["status"], done["counts"]) == ("ended", {"completed": 4})
        outputs = [next(a["key"] for a in job["artifacts"] if a["kind"] == "output") for job in done["jobs"]]
        assert [Path(key).suffix for key in outputs] == [
            ".png",
            ".png",
            ".png",
            ".mp4",
        ]  # a still stays a still

        middle = events[len(events) // 2][0]
        rest = _follow(client, batch["links"]["events"], after=middle)
        assert [e for e, _, _ in rest] == [e for e, _, _ in events if int(e) > int(middle)]

        other = {"Authorization": f"Bearer {new_api_key(workers, 'batch-other').secret}"}
        assert client.get(f"/v1/batches/{batch['id']}", headers=other).status_code == 404


def test_a_batch_of_sources_starts_whole_or_not_at_all(api: ApiProcess, infra: Settings) -> None:
    key = new_api_key(infra, "batch-sources")
    headers = {"Authorization": f"Bearer {key.secret}"}
    body = {"sources": [{"url": "https://example.com/a.mp4"}, {"object_key": "nowhere/missing.mp4"}]}
    refused = httpx.post(f"{api.base_url}/v1/batches", json=body, headers=headers)
    assert refused.status_code == 422, refused.text
    assert httpx.get(f"{api.base_url}/v1/jobs", headers=headers).json()["items"] == []
