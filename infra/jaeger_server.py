"""Jaeger, built from its Go module: receives the processes' spans over OTLP/HTTP and shows them.

Jaeger v2 (``cmd/jaeger``, an OpenTelemetry Collector distribution) with in-memory storage: nothing to
install beside it, traces gone at a restart, which suits a development stack. ``go install …@version``
refuses the module (its go.mod has replace directives), so ``infra/jaeger/go.mod`` is a module of ours that
names ``cmd/jaeger`` as a tool and pins the version and every dependency (go.sum); the binary is built
from it once per version into the cache, like MinIO. Its configuration is written here: every port on
our address and in our port scheme (the all-in-one defaults listen on a dozen fixed ports).
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import orjson

from base.errors import InfraError
from base.settings import Settings
from infra import system_packages
from infra.processes import spawn, wait_until
from infra.service import Service
from infra.steps import step

MODULE_DIR = Path(__file__).resolve().parent / "jaeger"
PACKAGE = "github.com/jaegertracing/jaeger/cmd/jaeger"


@cache
def jaeger_version(go_mod: Path = MODULE_DIR / "go.mod") -> str:
    """The version of github.com/jaegertracing/jaeger that ``infra/jaeger/go.mod`` pins."""
    found = re.search(r"^\s*github\.com/jaegertracing/jaeger (v\S+)", go_mod.read_text(), re.MULTILINE)
    if found is None:
        raise InfraError(f"{go_mod} names no version of github.com/jaegertracing/jaeger")
    return found[1]


class JaegerServer(Service):
    name = "jaeger"

    @property
    def endpoint(self) -> str:
        """Where spans go (OTLP over HTTP)."""
        return f"{self.settings.jaeger_host}:{self.settings.jaeger_otlp_port}"

    @property
    def binary(self) -> Path:
        return self.settings.cache_dir / f"jaeger-{jaeger_version()}" / "jaeger"

    @property
    def config_file(self) -> Path:
        return self.home / "config.yaml"

    def install(self) -> None:
        """Build the binary unless it is cached; a second caller meanwhile (the tests start a build in
        the background) waits for the first instead of building again."""
        system_packages.ensure({"go": "golang-go"})
        if self.binary.exists():
            return
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        with (self.binary.parent / "build.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self.binary.exists():
                self._build()

    def _build(self) -> None:
        partial = self.binary.with_name("jaeger.partial")
        # Static, no C toolchain needed; the flags are go install's for MinIO, so the two share compiled
        # packages in the go build cache. Niced: it is minutes of both cores, and whatever runs beside
        # it (the tests, a stack) comes first.
        env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}
        with step(f"building Jaeger {jaeger_version()} with go (once per version, minutes)"):
            result = subprocess.run(
                ["nice", "-n", "10", "go", "build", "-o", str(partial), PACKAGE],
                cwd=MODULE_DIR,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise InfraError(f"building Jaeger with `go build` failed:\n{result.stderr[-3000:]}")
        partial.replace(self.binary)

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(collector_config(self.settings))
        env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TZ"}}
        spawn(
            [str(self.binary), "--config", str(self.config_file)],
            pid_file=self.pid_file,
            log_file=self.log_file,
            env=env,
        )
        wait_until(
            self.is_ready,
            timeout_s=self.settings.ready_timeout_s,
            what="Jaeger",
            log_file=self.log_file,
            still_running=lambda: self.pid() is not None,
        )

    def probe(self) -> str | None:
        # The query API answers only once storage and the query extension are up; the receiver starts
        # before them in the collector's order, so this one call covers both.
        url = f"{self.settings.jaeger_query_url}/api/services"
        try:
            with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - our own loopback server
                return None if response.status == 200 else f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            return str(exc)


def collector_config(settings: Settings) -> str:
    """Jaeger's configuration: OTLP/HTTP in, memory storage, the query API and UI; nothing else listens.

    JSON is YAML, and saves a YAML writer: the collector reads either.
    """
    s = settings
    query: dict[str, object] = {
        "storage": {"traces": "memory"},
        "http": {"endpoint": f"{s.jaeger_host}:{s.jaeger_query_port}"},
        "grpc": {"endpoint": f"{s.jaeger_host}:{s.jaeger_query_grpc_port}"},
    }
    if s.jaeger_ui_assets is not None:
        query["ui"] = {"assets_path": str(s.jaeger_ui_assets.resolve())}
    config = {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
            # The collector's own metrics would listen on :8888 of every interface.
            "telemetry": {"resource": {"service.name": "jaeger"}, "metrics": {"level": "none"}},
        },
        "extensions": {
            "jaeger_storage": {"backends": {"memory": {"memory": {"max_traces": s.jaeger_max_traces}}}},
            "jaeger_query": query,
        },
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"{s.jaeger_host}:{s.jaeger_otlp_port}"}}}},
        "processors": {"batch": {}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": "memory"}},
    }
    return orjson.dumps(config, option=orjson.OPT_INDENT_2).decode()


def traced_env(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` for processes whose spans go to the local Jaeger, unless it names its own exporter."""
    chosen = dict(environ)
    own = ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not any(chosen.get(name) for name in own):
        chosen |= {
            "OTEL_EXPORTER_OTLP_ENDPOINT": settings.jaeger_otlp_url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        }
    return chosen
