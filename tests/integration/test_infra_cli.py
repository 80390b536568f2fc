"""`backdrop infra up | status | down` as a user runs them: real processes, a stack of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from base.settings import Settings
from infra.processes import pid_alive
from tests.stacks import stack_env

pytestmark = pytest.mark.integration

BACKDROP = [sys.executable, "-m", "backdrop"]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BACKDROP, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def _status(env: dict[str, str] | None = None) -> tuple[int, list[dict[str, Any]]]:
    result = _cli("infra", "status", "--json", env=env)
    return result.returncode, orjson.loads(result.stdout)


def test_status_lists_the_four_servers_healthy(infra: Settings) -> None:
    code, rows = _status()
    assert code == 0, rows
    assert {row["name"]: row["endpoint"] for row in rows} == {
        "postgres": f"127.0.0.1:{infra.postgres_port}",
        "redis": f"127.0.0.1:{infra.redis_port}",
        "kafka": f"127.0.0.1:{infra.kafka_port}",
        "minio": f"127.0.0.1:{infra.s3_port}",
    }
    assert all(row["healthy"] and row["pid"] for row in rows)


@pytest.fixture
def second_state_dir(infra: Settings) -> Iterator[Path]:
    # Inside the main state folder: the postgres user can reach it (pytest's tmp_path is private to root).
    path = infra.state_dir / f"second-stack-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_second_stack_on_other_ports_goes_up_twice_and_down_cleanly(
    second_state_dir: Path, infra: Settings
) -> None:
    # Overriding every endpoint by environment is itself part of what this checks.
    env = {**os.environ, **stack_env(second_state_dir, 10_100)}
    first = _cli("infra", "up", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    second = _cli("infra", "up", env=env)
    assert second.returncode == 0, second.stdout + second.stderr

    code, rows = _status(env)
    assert code == 0, rows
    assert sorted(row["endpoint"] for row in rows) == [
        "127.0.0.1:25532", "127.0.0.1:26479", "127.0.0.1:29100", "127.0.0.1:29192",
    ]  # fmt: skip
    pids = [row["pid"] for row in rows]

    down = _cli("infra", "down", env=env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not [pid for pid in pids if pid_alive(pid)]
    code, rows = _status(env)
    assert code == 1
    assert not any(row["healthy"] for row in rows)
    # The session's own stack was not touched.
    assert _status()[0] == 0


def test_backdrop_up_status_probe_and_down_as_make_run_and_make_down_use_them(
    second_state_dir: Path, infra: Settings
) -> None:
    env = {**os.environ, **stack_env(second_state_dir, 10_200)}
    run, pids = second_state_dir / "run", list[int]()
    try:
        up = _cli("up", env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "API at http://127.0.0.1:28200/docs" in up.stdout + up.stderr

        status = _cli("status", "--json", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        report = orjson.loads(status.stdout)
        assert all(row["healthy"] for row in report["servers"])
        assert report["workers"] == {
            "extract": 1, "score": 1, "segment": 1, "matte": 1, "composite": 1, "encode": 1,
            "assemble": 1, "janitor": 1, "projector": 1, "webhooks": 1, "api": 1,
        }  # fmt: skip
        pids = [int(path.read_text()) for path in run.glob("worker-*.pid")]
        assert len(pids) == 11
        for stage in ("extract", "assemble"):  # a pulse within a few polls of starting
            probe = _cli("probe", stage, env=env)
            for _ in range(60):
                if probe.returncode == 0:
                    break
                probe = _cli("probe", stage, env=env)
            assert probe.returncode == 0, probe.stdout + probe.stderr
        assert Settings(state_dir=second_state_dir).frame_cache_folder.is_dir()  # made by the workers
        report = orjson.loads(_cli("status", "--json", env=env).stdout)
        assert report["lag"]["extract"] == report["lag"]["assemble"] == 0  # nothing submitted: no backlog
        assert {"worker-extract-0", "worker-assemble-0"} <= set(report["pulse"])  # they polled
    finally:
        down = _cli("down", env=env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not [pid for pid in pids if pid_alive(pid)], "a worker outlived `backdrop down`"
    assert not list(run.glob("worker-*.pid"))
    assert not Settings(state_dir=second_state_dir).frame_cache_folder.exists(), "the RAM cache outlived down"
    code, rows = _status(env)
    assert code == 1
    assert not any(row["healthy"] for row in rows)
    assert _status()[0] == 0  # the session's own stack was not touched


def test_infra_smoke_prints_the_event_an_upload_made(infra: Settings) -> None:
    # README: `backdrop infra smoke` puts an object into the uploads bucket, prints the event it produced.
    result = _cli("infra", "smoke")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "s3:ObjectCreated:Put" in result.stdout + result.stderr
