"""deploy/k8s: parses, the objects fit together, the generated ones match their sources."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from interceptor.cli import build_parser
from interceptor.config import Settings, load_settings
from interceptor.policy.loader import policy_files
from tests.conftest import REPO
from tests.deploy.support import ALERTS

K8S = REPO / "deploy" / "k8s"
CONFIG = REPO / "deploy" / "interceptor.yaml"


def _render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_k8s", K8S / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _objects() -> dict[str, dict[str, Any]]:
    """Kind → the one object of that kind (ConfigMaps by name)."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    found: dict[str, dict[str, Any]] = {}
    for resource in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / resource).read_text(encoding="utf-8")):
            key = doc["metadata"]["name"] if doc["kind"] == "ConfigMap" else doc["kind"]
            assert key not in found, key
            found[key] = doc
    return found


def _container(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (container,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = container
    return result


def _settings(
    objects: dict[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The settings a pod ends up with: the ConfigMap's file plus the Deployment's env."""
    path = tmp_path / "interceptor.yaml"
    path.write_text(objects["interceptor-config"]["data"]["interceptor.yaml"], encoding="utf-8")
    for variable in _container(objects)["env"]:
        # Secrets are not in the manifests; any valid salt stands in for them.
        monkeypatch.setenv(variable["name"], variable.get("value", "a-salt-from-the-secret"))
    return load_settings(path)


def test_every_manifest_parses_with_the_expected_kinds() -> None:
    objects = _objects()
    assert set(objects) == {
        "interceptor-config",
        "interceptor-policies",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "ServiceMonitor",
        "PrometheusRule",
        "ScaledObject",
    }
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_the_generated_manifests_match_their_sources() -> None:
    for name, text in _render().render_all().items():
        committed = (K8S / name).read_text(encoding="utf-8")
        assert committed == text, f"deploy/k8s/{name} is stale: run `make k8s`"


def test_the_prometheus_rule_carries_exactly_the_alert_groups() -> None:
    rule = _objects()["PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"] == yaml.safe_load(ALERTS.read_text())["groups"]


def test_the_policy_config_map_is_the_pack() -> None:
    data = _objects()["interceptor-policies"]["data"]
    root = REPO / "policies"
    expected = {p.name for p in policy_files(root)} | {"vocabulary.yaml"}
    assert set(data) == expected
    for name, text in data.items():
        assert text == (root / name).read_text(encoding="utf-8"), name


def test_the_deployment_probes_resources_and_graceful_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = _objects()
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    container = _container(objects)
    build_parser().parse_args(container["command"][1:])
    port = container["ports"][0]
    assert port == {"name": "metrics", "containerPort": 9108}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    settings = _settings(objects, tmp_path, monkeypatch)
    processing = settings.processing
    longest_commit_s = (processing.commit_interval_ms + processing.batch_timeout_ms) / 1000
    assert pod["terminationGracePeriodSeconds"] >= max(30, 4 * longest_commit_s)
    assert settings.metrics.port == port["containerPort"]
    # The config file is mounted where the command reads it; policies where the env points.
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["config"]["mountPath"] == container["command"][-1]
    assert mounts["policies"]["mountPath"] == str(settings.policies.path)
    assert "subPath" not in mounts["policies"], "a subPath mount never sees policy updates"
    salt = next(e for e in container["env"] if e["name"] == "INTERCEPTOR_AUDIT__ENTITY_SALT")
    assert salt["valueFrom"]["secretKeyRef"]["name"] == "interceptor-secrets"


def test_service_monitor_pdb_and_service_select_the_pods() -> None:
    objects = _objects()
    pod_labels = objects["Deployment"]["spec"]["template"]["metadata"]["labels"]
    service = objects["Service"]
    assert service["metadata"]["name"] == "interceptor"  # the job label the alerts select
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["name"] == "metrics"
    monitor = objects["ServiceMonitor"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["endpoints"][0]["port"] == "metrics"
    assert monitor["endpoints"][0]["path"] == "/metrics"
    pdb = objects["PodDisruptionBudget"]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["maxUnavailable"] == 1


def test_keda_scales_on_the_groups_lag_up_to_the_partition_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = _objects()
    scaled = objects["ScaledObject"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] == objects["Deployment"]["metadata"]["name"]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "kafka"
    settings = _settings(objects, tmp_path, monkeypatch)
    meta = trigger["metadata"]
    assert meta["consumerGroup"] == settings.kafka.group_id
    assert meta["topic"] == settings.topics.inputs[0]
    assert meta["bootstrapServers"] == settings.kafka.bootstrap_servers
    assert meta["allowIdleConsumers"] == "false"
    assert int(meta["lagThreshold"]) > 0
    assert 1 <= spec["minReplicaCount"] < spec["maxReplicaCount"] == settings.topics.partitions
