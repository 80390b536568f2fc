"""Background worker processes, one per stage replica, started and stopped by pid like the servers.

A set of workers keeps its pid files in ``<folder>/run`` and its logs in ``<folder>/logs``; `backdrop up`
uses the state folder. Another folder is another set (the integration tests own theirs): starting or
stopping one never touches the processes of another.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from base.settings import Settings
from infra.kafka_acls import principal_password
from infra.processes import read_pid, spawn, stop_pids
from schemas import PIPELINE

# Beside the stages: the janitor, the read-model projector, the webhook dispatcher and the HTTP API.
SERVICES: tuple[str, ...] = ("janitor", "projector", "webhooks", "api")


def worker_files(folder: Path, name: str, replica: int = 0) -> tuple[Path, Path]:
    """The pid file and the log file of replica ``replica`` of ``name`` in the set kept in ``folder``."""
    stem = f"worker-{name}-{replica}"
    return folder / "run" / f"{stem}.pid", folder / "logs" / f"{stem}.log"


def _folder(settings: Settings, folder: Path | None) -> Path:
    return (folder or settings.state_dir).resolve()


def _command(name: str) -> list[str]:
    if name == "api":
        return [sys.executable, "-m", "backdrop", "api"]
    return [sys.executable, "-m", "backdrop", "worker", name]


def start_workers(
    settings: Settings,
    replicas: dict[str, int] | None = None,
    services: tuple[str, ...] = (),
    *,
    folder: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, list[int]]:
    """Start what is not running: ``replicas`` workers per stage (default 1 each), then ``services``.

    ``folder``: where the set keeps its pid files and logs (default: the state folder); ``env``: the
    workers' environment (default: ours).
    """
    pids: dict[str, list[int]] = {}
    for stage in (*PIPELINE, *services):
        pids[stage] = []
        for replica in range((replicas or {}).get(stage, 1)):
            pid_file, log_file = worker_files(_folder(settings, folder), stage, replica)
            pid = read_pid(pid_file)
            if pid is None:
                pid = spawn(
                    _command(stage), pid_file=pid_file, log_file=log_file, env=_as(settings, stage, env)
                )
            pids[stage].append(pid)
    return pids


def _as(settings: Settings, name: str, env: Mapping[str, str] | None) -> dict[str, str]:
    """The environment of worker ``name``: on the local broker, as its own Kafka principal (a stage, the
    janitor, the projector, the API), not as the admin the tools use. The webhook dispatcher uses no
    Kafka at all. Every worker but the API serves its metrics on a free port (announced in the metrics
    folder) unless one is set."""
    chosen = dict(os.environ if env is None else env)
    password = principal_password(settings, name)
    if settings.kafka_username is None and password is not None:
        chosen |= {"BACKDROP_KAFKA_USERNAME": name, "BACKDROP_KAFKA_PASSWORD": password}
    if name in (*PIPELINE, "janitor", "projector", "webhooks"):
        chosen.setdefault("BACKDROP_METRICS_PORT", "0")
    return chosen


def running_workers(settings: Settings, *, folder: Path | None = None) -> dict[str, int]:
    """Pid of each live worker of the set, by its name (worker-<stage>-<replica>)."""
    run = _folder(settings, folder) / "run"
    found = {}
    for pid_file in sorted(run.glob("worker-*.pid")) if run.exists() else []:
        pid = read_pid(pid_file)
        if pid is not None:
            found[pid_file.stem] = pid
    return found


def stop_workers(settings: Settings, *, folder: Path | None = None) -> None:
    """SIGTERM each worker of the set (it finishes its current message), SIGKILL after a grace period."""
    run = _folder(settings, folder) / "run"
    pid_files = sorted(run.glob("worker-*.pid")) if run.exists() else []
    # All at once: each takes a second or more to finish its message and leave its group.
    stop_pids([pid for pid in map(read_pid, pid_files) if pid is not None], grace_s=60)
    for pid_file in pid_files:
        pid_file.unlink(missing_ok=True)
