"""docker-compose.yml and deploy/Dockerfile without a Docker engine: they parse, every file they
mount or copy exists, every interceptor command is one the real CLI accepts, configs load."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from interceptor.cli import build_parser
from interceptor.config import Settings, load_settings
from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
CONTAINER_CONFIG = REPO / "deploy" / "interceptor.yaml"


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return document


def _interceptor_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in _compose()["services"].items()
        if service.get("image", "").startswith("feature-interceptor")
    }


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_compose_file_has_every_service() -> None:
    services = _compose()["services"]
    assert {"kafka", "kafka-init", "interceptor", "demo", "prometheus", "grafana"} <= set(services)
    kafka = services["kafka"]["environment"]
    assert "broker" in kafka["KAFKA_PROCESS_ROLES"] and "controller" in kafka["KAFKA_PROCESS_ROLES"]
    assert set(_interceptor_services()) == {"interceptor", "demo"}
    build = services["interceptor"]["build"]
    assert (REPO / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_every_mounted_file_exists() -> None:
    mounts = 0
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: {volume}"
                mounts += 1
    assert mounts >= 6


def test_every_interceptor_command_is_a_valid_cli_invocation() -> None:
    parser = build_parser()
    for name, service in _interceptor_services().items():
        command = service["command"]
        assert command[0] == "interceptor", name
        args = parser.parse_args(command[1:])
        assert args.command in {"run", "demo"}, name
        if args.command == "run":
            mounted = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
            assert str(args.config) in mounted, f"{name}: --config is not mounted"
        else:
            assert args.bootstrap_servers == "kafka:9092", "the demo must use compose's Kafka"


def test_the_dockerfile_command_and_healthcheck() -> None:
    instructions = _dockerfile_instructions()
    cmd = [yaml.safe_load(body) for op, body in instructions if op == "CMD"][-1]
    assert cmd[0] == "interceptor"
    build_parser().parse_args(cmd[1:])
    (healthcheck,) = [body for op, body in instructions if op == "HEALTHCHECK"]
    assert "/healthz" in healthcheck
    users = [body for op, body in instructions if op == "USER"]
    assert users and not users[-1].startswith(("0", "root")), "runs as a non-root user"
    assert any(body.startswith("python:3.11-slim") for op, body in instructions if op == "FROM")


def test_every_copied_file_exists_and_is_in_the_build_context() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copied = 0
    for op, body in _dockerfile_instructions():
        if op != "COPY" or body.startswith("--from="):
            continue
        *sources, _destination = shlex.split(body)
        for source in sources:
            assert (REPO / source).exists(), source
            assert source.rstrip("/") in allowed, f"{source} is excluded by the .dockerignore"
            copied += 1
    assert copied >= 5


@pytest.mark.parametrize("path", [CONTAINER_CONFIG, REPO / "examples" / "interceptor.yaml"])
def test_config_files_load(path: Path) -> None:
    settings = load_settings(path)
    assert settings.metrics.port == 9108


def test_the_compose_environment_gives_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    services = _interceptor_services()
    interceptor = services["interceptor"]["environment"]
    for key, value in interceptor.items():
        monkeypatch.setenv(key, re.sub(r"\$\{\w+:-(.*)\}", r"\1", str(value)))
    settings = load_settings(CONTAINER_CONFIG)
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert not settings.audit.uses_dev_salt
    assert (REPO / "policies").is_dir()  # mounted at settings.policies.path
    assert str(settings.policies.path) == "/app/policies"

    # The demo only publishes (no interceptor of its own), to the topics the real one reads.
    assert "--produce-only" in services["demo"]["command"]
    demo = Settings(topics={"inputs": ["features.raw"]})  # as the demo builds its settings
    assert demo.topics.inputs == list(settings.topics.inputs)
    assert demo.topics.consent == settings.topics.consent
    assert demo.topics.audit_panel == settings.topics.audit_panel
    assert demo.topics.transformations == settings.topics.transformations


def test_kafka_init_creates_every_topic_of_the_config() -> None:
    script = _compose()["services"]["kafka-init"]["command"][0]
    created = dict(re.findall(r"^create (\S+) (\d+)", script, flags=re.MULTILINE))
    topics = load_settings(CONTAINER_CONFIG).topics
    names = [*topics.inputs, topics.clean, topics.quarantine, topics.audit, topics.deadletter]
    names += [topics.consent, topics.audit_panel, topics.transformations, topics.detector_state]
    assert set(names) <= set(created)
    assert int(created[topics.inputs[0]]) == topics.partitions
    for compacted in (topics.consent, topics.audit_panel, topics.transformations):
        line = rf"^create {re.escape(compacted)} \d+ cleanup.policy=compact$"
        assert re.search(line, script, flags=re.MULTILINE), compacted
