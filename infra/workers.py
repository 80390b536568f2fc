"""One background worker process per stage, started and stopped by pid like the servers."""

from __future__ import annotations

import sys
from pathlib import Path

from base.settings import Settings
from infra.processes import read_pid, spawn, stop_pid
from schemas import PIPELINE


def _files(settings: Settings, stage: str, replica: int) -> tuple[Path, Path]:
    state = settings.state_dir.resolve()
    name = f"worker-{stage}-{replica}"
    return state / "run" / f"{name}.pid", state / "logs" / f"{name}.log"


# Beside the stages: the read-model projector, the webhook dispatcher and the HTTP API.
SERVICES: tuple[str, ...] = ("projector", "webhooks", "api")


def _command(name: str) -> list[str]:
    if name == "api":
        return [sys.executable, "-m", "backdrop", "api"]
    return [sys.executable, "-m", "backdrop", "worker", name]


def start_workers(
    settings: Settings, replicas: dict[str, int] | None = None, services: tuple[str, ...] = ()
) -> dict[str, list[int]]:
    """Start what is not running: ``replicas`` workers per stage (default 1 each), then ``services``."""
    pids: dict[str, list[int]] = {}
    for stage in (*PIPELINE, *services):
        pids[stage] = []
        for replica in range((replicas or {}).get(stage, 1)):
            pid_file, log_file = _files(settings, stage, replica)
            pid = read_pid(pid_file)
            if pid is None:
                pid = spawn(_command(stage), pid_file=pid_file, log_file=log_file)
            pids[stage].append(pid)
    return pids


def running_workers(settings: Settings) -> dict[str, int]:
    """Pid of each live worker, by its name (worker-<stage>-<replica>)."""
    run = settings.state_dir.resolve() / "run"
    found = {}
    for pid_file in sorted(run.glob("worker-*.pid")) if run.exists() else []:
        pid = read_pid(pid_file)
        if pid is not None:
            found[pid_file.stem] = pid
    return found


def stop_workers(settings: Settings) -> None:
    """SIGTERM each worker (it finishes its current message), SIGKILL after a grace period."""
    run = settings.state_dir.resolve() / "run"
    for pid_file in sorted(run.glob("worker-*.pid")) if run.exists() else []:
        pid = read_pid(pid_file)
        if pid is not None:
            stop_pid(pid, grace_s=60)
        pid_file.unlink(missing_ok=True)
