"""A short chaos run (`backdrop soak --kills`, scaled down): jobs stream in through the API while workers
of every stage, the janitor, the projector and the webhook dispatcher are SIGKILLed at random moments and
PostgreSQL crashes once. Every job must complete with every frame, and with exactly one webhook.

The run has a database and consumer groups of its own, so no other process of the test session projects
or delivers these jobs in place of the ones struck here. The full run (50 kills in 10 minutes) is in
README "Soak and chaos", with the command that repeats it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest

from api.migrate import upgrade
from base.settings import Settings
from bench.chaos import RECEIVER_HOST, Chaos, WebhookReceiver, plan
from bench.soak import soak
from infra import stack
from infra.postgres_server import PostgresServer
from infra.workers import running_workers, start_workers
from schemas import PIPELINE
from streams.s3_store import s3_store
from streams.topics import JOBS
from tests.integration.api_fixtures import new_api_key, start_api
from tests.integration.pipeline_fixtures import OwnWorkers, begin_at_end, own_workers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
SERVICES = ("janitor", "projector", "webhooks")
MINUTES = 1.5
KILLS = 8


@pytest.fixture
def workers(empty_database: Settings, tmp_path: Path) -> Iterator[OwnWorkers]:
    upgrade(empty_database)
    with own_workers(empty_database, tmp_path / "workers") as own:
        for name in ("janitor", "projector"):
            begin_at_end(empty_database, own.group(name), [JOBS.name, "backdrop.stage.extract"])
        start_workers(own.settings, {}, SERVICES, folder=own.folder, env=_env(own))
        yield own


def _env(own: OwnWorkers) -> dict[str, str]:
    return {
        **own.env,
        "BACKDROP_POSTGRES_DB": own.settings.postgres_db,
        "BACKDROP_URL_ALLOW_NETWORKS": orjson.dumps([f"{RECEIVER_HOST}/32"]).decode(),
        "BACKDROP_CLEANUP_GRACE_S": "5",
    }


def test_jobs_survive_random_kills_and_a_postgres_crash(
    infra: Settings, empty_database: Settings, workers: OwnWorkers, tmp_path: Path
) -> None:
    api = start_api(empty_database, tmp_path, BACKDROP_POSTGRES_DB=empty_database.postgres_db)
    key = new_api_key(empty_database, "chaos")
    receiver = WebhookReceiver()

    def pids() -> dict[str, int]:
        found = {
            name.removeprefix("worker-"): pid
            for name, pid in running_workers(infra, folder=workers.folder).items()
        }
        postgres = PostgresServer(infra).pid()
        return found | ({"postgres": postgres} if postgres else {})

    def restart() -> None:
        stack.up(infra)
        start_workers(workers.settings, {}, SERVICES, folder=workers.folder, env=_env(workers))

    targets = [name for name in pids() if name != "postgres"]
    assert {name.rsplit("-", 1)[0] for name in targets} == {*PIPELINE, *SERVICES}
    chaos = Chaos(
        plan(KILLS, MINUTES * 60, targets, seed=3, postgres_at_s=MINUTES * 60 / 3),
        pids,
        restart,
        crashes={"postgres": PostgresServer(infra).crash},
    )
    port = urlsplit(api.base_url).port
    try:
        report = soak(
            empty_database.model_copy(update={"api_port": port}),
            key.secret,
            minutes=MINUTES,
            rate_per_minute=12,
            clip_seconds=1.0,
            work_dir=tmp_path,
            drain_s=240,
            sample_every_s=15,
            pids=pids,
            groups={},
            store=s3_store(infra),
            chaos=chaos,
            webhooks=receiver,
            check_frames=True,
        )
    finally:
        receiver.close()
        api.stop()
        chaos.finish()

    struck = [s for s in report.struck if s["pid"] is not None]
    assert len(struck) == KILLS + 1, report.struck
    assert (report.completed, report.failed, report.unfinished) == (report.submitted, 0, 0), report.as_json()
    # One delivery per job, told apart by webhook-id: a dispatcher killed mid-POST may send one twice.
    assert report.webhooks is not None
    assert (report.webhooks["one"], report.webhooks["none"], report.webhooks["more"]) == (
        report.submitted,
        0,
        0,
    )
    assert report.frames is not None
    assert report.frames["checked"] == report.submitted
    assert report.frames["wrong"] == [], report.frames
