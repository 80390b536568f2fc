"""The vegeta HTTP load generator (Go): built once into the cache, then open-loop attacks at a fixed rate.

Open loop: requests leave on schedule whether or not earlier ones have answered, so a server that falls
behind shows its queueing in the latencies instead of slowing the generator down (closed-loop tools hide
it: coordinated omission).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from base.errors import InfraError
from base.settings import Settings
from infra import system_packages

MODULE = "github.com/tsenart/vegeta/v12"
VERSION = "v12.13.0"


def ensure_vegeta(settings: Settings) -> Path:
    """The vegeta binary, built with `go install` into the cache on first use (like MinIO)."""
    binary = settings.cache_dir / "bin" / f"vegeta-{VERSION}"
    if binary.exists():
        return binary
    system_packages.ensure({"go": "golang-go"})
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=binary.parent, prefix=".vegeta-build-") as gobin:
        result = subprocess.run(
            ["go", "install", f"{MODULE}@{VERSION}"],
            env={**os.environ, "GOBIN": gobin, "CGO_ENABLED": "0"},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise InfraError(f"building vegeta with `go install` failed:\n{result.stderr[-3000:]}")
        # Moved into place whole, so an interrupted build never leaves a half-written binary behind.
        os.replace(Path(gobin) / "vegeta", binary)
    return binary


def attack(
    vegeta: Path,
    targets: Path,
    *,
    rate: int,
    seconds: float,
    results: Path,
    log: Path,
    on_tick: Callable[[float], None] = lambda elapsed: None,
) -> dict[str, Any]:
    """Send ``rate`` requests per second for ``seconds`` from the ``targets`` file; vegeta's JSON report.

    Latencies in the report are nanoseconds (``latencies["50th"]``, ``["99th"]``, ...).
    """
    argv = [str(vegeta), "attack", f"-rate={rate}/s", f"-duration={seconds}s", f"-targets={targets}"]
    argv += [f"-output={results}", "-timeout=10s"]
    started = time.monotonic()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=out)
    try:
        while process.poll() is None:
            on_tick(time.monotonic() - started)
            time.sleep(0.25)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    if process.returncode != 0:
        raise InfraError(f"vegeta attack failed ({process.returncode}); see {log}")
    report = subprocess.run(
        [str(vegeta), "report", "-type=json", str(results)], capture_output=True, check=False
    )
    if report.returncode != 0:
        raise InfraError(f"vegeta report failed: {report.stderr.decode(errors='replace')[-1000:]}")
    parsed: dict[str, Any] = orjson.loads(report.stdout)
    return parsed
