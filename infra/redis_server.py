"""Redis from Debian's package, in a data folder of ours, on a non-default port."""

from __future__ import annotations

import redis

from infra import system_packages
from infra.processes import spawn, wait_until
from infra.service import Service


class RedisServer(Service):
    name = "redis"

    @property
    def endpoint(self) -> str:
        return f"{self.settings.redis_host}:{self.settings.redis_port}"

    def install(self) -> None:
        system_packages.ensure({"redis-server": "redis-server"})

    def start(self) -> None:
        s = self.settings
        self.home.mkdir(parents=True, exist_ok=True)
        spawn(
            [
                "redis-server",
                "--bind",
                s.redis_host,
                "--port",
                str(s.redis_port),
                "--dir",
                str(self.home),
                "--daemonize",
                "no",
                # Redis holds only derived, short-lived state (progress fan-out, rate limits): no snapshots.
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            pid_file=self.pid_file,
            log_file=self.log_file,
        )
        wait_until(
            self.is_ready,
            timeout_s=s.ready_timeout_s,
            what="Redis",
            log_file=self.log_file,
            still_running=lambda: self.pid() is not None,
        )

    def probe(self) -> str | None:
        client = redis.Redis(
            host=self.settings.redis_host, port=self.settings.redis_port, socket_connect_timeout=2
        )
        try:
            client.ping()
        except redis.RedisError as exc:
            return str(exc)
        finally:
            client.close()
        return None
