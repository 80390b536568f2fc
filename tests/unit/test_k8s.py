"""The Kubernetes manifests agree with the stages, their consumer groups and their topics' partitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from agents.workers import stage_topics
from api.projector import ProjectorHandler
from base.settings import Settings
from schemas import PIPELINE
from streams.topics import ALL_TOPICS

K8S = Path(__file__).resolve().parents[2] / "infra" / "k8s"


def _docs(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def test_a_deployment_and_a_lag_scaler_per_stage() -> None:
    docs = _docs("workers.yaml")
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    scalers = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ScaledObject"}
    partitions = {spec.name: spec.partitions for spec in ALL_TOPICS}
    consumed = stage_topics()
    for stage in PIPELINE:
        container = deployments[f"worker-{stage}"]["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["backdrop", "worker", stage]
        triggers = [t["metadata"] for t in scalers[f"worker-{stage}"]["spec"]["triggers"]]
        topics = list(consumed[stage])
        assert [t["consumerGroup"] for t in triggers] == [f"backdrop-{stage}"] * len(topics)
        assert [t["topic"] for t in triggers] == topics
        assert scalers[f"worker-{stage}"]["spec"]["maxReplicaCount"] == max(partitions[t] for t in topics)


def test_every_consumer_is_restarted_when_it_stops_polling() -> None:
    manifests = [*_docs("workers.yaml"), *_docs("read-model.yaml")]
    docs = [d for d in manifests if d["kind"] == "Deployment"]
    containers = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0] for d in docs}
    for name in (*PIPELINE, "janitor", "projector"):
        container = containers[f"worker-{name}" if name in PIPELINE else name]
        for probe in ("startupProbe", "livenessProbe"):
            assert container[probe]["exec"]["command"] == ["backdrop", "probe", name], (name, probe)


def test_segment_runs_on_gpu_nodes() -> None:
    deployment = next(d for d in _docs("workers.yaml") if d["metadata"]["name"] == "worker-segment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert set(env["NVIDIA_DRIVER_CAPABILITIES"].split(",")) >= {"compute", "video"}


def test_config_names_are_settings() -> None:
    fields = Settings.model_fields
    for doc in _docs("config.yaml"):
        if doc["metadata"]["name"] == "backdrop-kafka":
            continue  # principals' passwords, by principal; each pod reads its own
        for name in {**doc.get("data", {}), **doc.get("stringData", {})}:
            if name.startswith("OTEL_"):  # OpenTelemetry's own variables (streams/telemetry.py)
                continue
            assert name.removeprefix("BACKDROP_").lower() in fields, name


def _deployments(name: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _docs(name) if d["kind"] == "Deployment"}


def test_every_manifest_is_in_the_kustomization() -> None:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def test_the_read_model_migrates_before_it_starts() -> None:
    from infra.workers import SERVICES

    deployments = _deployments("read-model.yaml")
    worker = _deployments("workers.yaml")["worker-extract"]["spec"]["template"]["spec"]["containers"][0]
    commands = {
        "projector": ["backdrop", "worker", "projector"],
        "webhooks": ["backdrop", "worker", "webhooks"],
        "api": ["backdrop", "api", "--host", "0.0.0.0"],
    }
    assert set(commands) == set(SERVICES) - {"janitor"}  # the janitor reads no database
    for name, args in commands.items():
        pod = deployments[name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        (migrate,) = pod["initContainers"]
        assert container["args"] == args
        assert migrate["args"] == ["backdrop", "db", "upgrade"]
        for started in (container, migrate):
            assert started["image"] == worker["image"]
            assert started["envFrom"] == worker["envFrom"]


def test_the_projector_scales_on_its_lag() -> None:
    scaler = next(d for d in _docs("read-model.yaml") if d["kind"] == "ScaledObject")
    assert scaler["spec"]["scaleTargetRef"] == {"name": "projector"}
    triggers = [t["metadata"] for t in scaler["spec"]["triggers"]]
    assert {t["consumerGroup"] for t in triggers} == {"backdrop-projector"}
    topics = [spec for spec in ALL_TOPICS if spec.name in ProjectorHandler.topics]
    assert {t["topic"] for t in triggers} == {spec.name for spec in topics}
    assert scaler["spec"]["maxReplicaCount"] == min(spec.partitions for spec in topics)


def test_the_api_probes_and_serves_the_settings_port() -> None:
    port = Settings().api_port
    docs = _docs("read-model.yaml")
    (container,) = _deployments("read-model.yaml")["api"]["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    service = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "api")
    assert service["spec"]["ports"] == [{"name": "http", "port": port, "targetPort": "http"}]
    assert service["spec"]["selector"] == {"app.kubernetes.io/component": "api"}


def test_every_kafka_client_is_its_own_principal() -> None:
    from infra.kafka_acls import grants

    secrets = next(d for d in _docs("config.yaml") if d["metadata"]["name"] == "backdrop-kafka")["stringData"]
    deployments = {**_deployments("workers.yaml"), **_deployments("read-model.yaml")}
    roles = grants("backdrop")
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {item["name"]: item for item in container.get("env", [])}
        if name == "webhooks":  # delivers from PostgreSQL; no Kafka client at all
            assert "BACKDROP_KAFKA_USERNAME" not in env
            continue
        principal = env["BACKDROP_KAFKA_USERNAME"]["value"]
        assert principal == name.removeprefix("worker-"), name
        assert principal in roles
        assert env["BACKDROP_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "backdrop-kafka",
            "key": principal,
        }
        assert principal in secrets


def test_every_stage_worker_serves_metrics_that_prometheus_scrapes() -> None:
    scrape = yaml.safe_load((K8S.parent / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    discovered = f"{Settings.model_fields['metrics_dir'].default}/*.json"
    assert jobs["backdrop-workers"]["file_sd_configs"][0]["files"] == [discovered]
    assert "kubernetes_sd_configs" in jobs["kubernetes-pods"]
    deployments = {**_deployments("workers.yaml"), **_deployments("read-model.yaml")}
    for name in [f"worker-{stage}" for stage in PIPELINE] + ["janitor", "projector", "webhooks"]:
        pod = deployments[name]["spec"]["template"]
        annotations = pod["metadata"]["annotations"]
        container = pod["spec"]["containers"][0]
        env = {item["name"]: item.get("value") for item in container["env"]}
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == env["BACKDROP_METRICS_PORT"] == "9100"
        assert {"name": "metrics", "containerPort": 9100} in container["ports"]
        assert env["BACKDROP_METRICS_HOST"] == "0.0.0.0"  # the pod's network, for the scraper


def test_the_stages_that_decode_frames_share_the_nodes_ram_disk() -> None:
    from tests.unit.test_compose import FRAME_STAGES

    deployments = _deployments("workers.yaml")
    for stage in PIPELINE:
        pod = deployments[f"worker-{stage}"]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        env = {item["name"]: item.get("value") for item in container["env"]}
        if stage in FRAME_STAGES:
            assert env["BACKDROP_FRAME_CACHE_DIR"] == "/frames"
            assert container["volumeMounts"] == [{"name": "frames", "mountPath": "/frames"}]
            (volume,) = pod["volumes"]
            assert volume["hostPath"]["path"].startswith("/dev/shm/")  # RAM, and the node's: shared
            (owner,) = pod["initContainers"]
            assert owner["command"] == ["chown", "65534:65534", "/frames"]  # Dockerfile: USER nobody
        else:
            assert "BACKDROP_FRAME_CACHE_DIR" not in env


def test_the_image_asks_the_gpu_runtime_for_the_video_decoder_too() -> None:
    # NVDEC (agents.extract.accel) needs the driver's video libraries, which `--gpus` leaves out unless asked.
    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    (line,) = [line for line in dockerfile.splitlines() if line.startswith("ENV NVIDIA_DRIVER_CAPABILITIES=")]
    assert set(line.partition("=")[2].split(",")) >= {"compute", "utility", "video"}
