"""The Kubernetes manifests agree with the stages, their consumer groups and their topics' partitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from agents.workers import STAGES
from backdrop.settings import Settings
from streams.topics import ALL_TOPICS, UPLOADS, stage_topic

K8S = Path(__file__).resolve().parents[2] / "infra" / "k8s"


def _docs(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def test_a_deployment_and_a_lag_scaler_per_stage() -> None:
    docs = _docs("workers.yaml")
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    scalers = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ScaledObject"}
    partitions = {spec.name: spec.partitions for spec in ALL_TOPICS}
    for stage in STAGES:
        container = deployments[f"worker-{stage}"]["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["backdrop", "worker", stage]
        trigger = scalers[f"worker-{stage}"]["spec"]["triggers"][0]["metadata"]
        topic = UPLOADS.name if stage == "extract" else stage_topic(stage).name
        assert trigger["consumerGroup"] == f"backdrop-{stage}"
        assert trigger["topic"] == topic
        assert scalers[f"worker-{stage}"]["spec"]["maxReplicaCount"] == partitions[topic]


def test_segment_runs_on_gpu_nodes() -> None:
    deployment = next(d for d in _docs("workers.yaml") if d["metadata"]["name"] == "worker-segment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}


def test_config_names_are_settings() -> None:
    fields = Settings.model_fields
    for doc in _docs("config.yaml"):
        for name in {**doc.get("data", {}), **doc.get("stringData", {})}:
            assert name.removeprefix("BACKDROP_").lower() in fields, name
