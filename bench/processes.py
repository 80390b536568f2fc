"""Processes a benchmark starts and must stop: an API process on a free port, workers, client processes."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from base.errors import InfraError
from base.settings import Settings


@dataclass
class Child:
    """A process the bench started and must stop."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def cpu_s(self) -> float:
        """User + system CPU seconds so far, from /proc (0 once the process is gone)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def spawn(
    name: str, argv: list[str], log: Path, *, piped: bool = False, env: dict[str, str] | None = None
) -> Child:
    """Start ``argv``, output to ``log``, with ``env`` added to our environment; ``piped``: stdin and
    stdout are pipes to us instead."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        pipe = subprocess.PIPE if piped else None
        environment = {**os.environ, **(env or {})}
        process = subprocess.Popen(argv, stdin=pipe, stdout=pipe or out, stderr=out, env=environment)
        return Child(name, process, log)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_api(settings: Settings, log_dir: Path, env: dict[str, str] | None = None) -> tuple[Child, str]:
    """``backdrop api`` on a free port, ``env`` added to our environment; returns once ``/readyz`` answers
    200."""
    port = free_port()
    argv = [sys.executable, "-m", "backdrop", "api", "--port", str(port)]
    api = spawn("api", argv, log_dir / f"api-{port}.log", env=env)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + settings.ready_timeout_s
    while time.monotonic() < deadline:
        if api.process.poll() is not None:
            raise InfraError(f"the API process exited with {api.process.returncode}; see {api.log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return api, base_url
        time.sleep(0.3)
    api.stop()
    raise InfraError(f"the API process was not ready within {settings.ready_timeout_s:.0f} s; see {api.log}")
