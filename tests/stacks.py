"""The environment of a local stack of its own: a state folder and a block of ports, for tests that must
not touch any other stack on the machine."""

from __future__ import annotations

from pathlib import Path

from base.settings import Settings

PORTS = (
    "kafka_port",
    "kafka_controller_port",
    "postgres_port",
    "redis_port",
    "s3_port",
    "api_port",
    "jaeger_otlp_port",
    "jaeger_query_port",
    "jaeger_query_grpc_port",
)


def stack_env(state_dir: Path, port_offset: int) -> dict[str, str]:
    """BACKDROP_* of a stack kept in ``state_dir``, listening on every default port plus ``port_offset``."""
    env = {
        "BACKDROP_STATE_DIR": str(state_dir),
        "BACKDROP_PULSE_DIR": str(state_dir / "pulse"),
        "BACKDROP_METRICS_DIR": str(state_dir / "metrics"),
    }
    for name in PORTS:
        env[f"BACKDROP_{name.upper()}"] = str(Settings.model_fields[name].default + port_offset)
    return env
