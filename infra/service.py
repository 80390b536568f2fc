"""What every local server looks like to the stack: install, start, health, stop — by pid."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path

from base.settings import Settings
from infra.processes import read_pid, stop_pid


@dataclass(frozen=True)
class Health:
    name: str
    endpoint: str
    healthy: bool
    pid: int | None
    detail: str = ""


class Service(abc.ABC):
    """One server; its files live under ``<state_dir>/<name>/``, its log in ``<state_dir>/logs/``."""

    name: str

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = settings.state_dir.resolve()

    @property
    def home(self) -> Path:
        return self.state / self.name

    @property
    def log_file(self) -> Path:
        return self.state / "logs" / f"{self.name}.log"

    @property
    def pid_file(self) -> Path:
        return self.state / "run" / f"{self.name}.pid"

    @property
    @abc.abstractmethod
    def endpoint(self) -> str:
        """``host:port`` clients use."""

    def install(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Fetch or build what the server needs; a no-op when it is already there."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start the server in the background and record its pid; return once it answers."""

    @abc.abstractmethod
    def probe(self) -> str | None:
        """One real client call: None when healthy, else why not."""

    def pid(self) -> int | None:
        return read_pid(self.pid_file)

    def provision(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Create what clients expect inside the running server (database, topics, buckets). Idempotent."""

    def up(self) -> None:
        if self.pid() is None:
            self.install()
            self.start()
        self.provision()

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            stop_pid(pid)
        self.pid_file.unlink(missing_ok=True)

    def health(self) -> Health:
        problem = self.probe()
        return Health(self.name, self.endpoint, problem is None, self.pid(), problem or "")

    def is_ready(self) -> bool:
        return self.probe() is None
