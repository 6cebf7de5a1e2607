"""Configuration loading: file + environment, unknown keys, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from interceptor.config import DEV_ENTITY_SALT, Settings, load_settings
from interceptor.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("INTERCEPTOR_"):
            monkeypatch.delenv(name)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "interceptor.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_match_the_design() -> None:
    s = load_settings(None)
    assert s.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert s.kafka.group_id == "interceptor"
    assert s.kafka.session_timeout_ms == 10000
    assert s.topics.inputs == ["features.raw"]
    assert (s.topics.clean, s.topics.quarantine, s.topics.audit, s.topics.deadletter) == (
        "features.clean",
        "features.quarantine",
        "compliance.audit",
        "features.deadletter",
    )
    assert s.topics.consent == "privacy.consent"
    assert s.topics.audit_panel == "privacy.audit-panel"
    assert s.topics.transformations == "interceptor.transformations"
    assert s.topics.detector_state == "interceptor.detector-state"
    assert s.processing.guarantee == "at-least-once"
    assert (s.processing.batch_size, s.processing.batch_timeout_ms) == (5000, 100)
    assert s.processing.on_unregistered == "block"
    assert s.processing.max_record_bytes == 900_000
    assert s.policies.path == Path("policies") and s.policies.reload
    assert s.policies.reload_interval_ms == 1000
    assert s.manifests.path == Path("examples/transformations")
    assert (s.metrics.host, s.metrics.port) == ("0.0.0.0", 9108)


def test_file_values_are_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "kafka: {bootstrap_servers: 'b:1', group_id: g}\n"
        "topics: {inputs: [a, b], transformation_by_topic: {a: geo_features}}\n"
        "processing: {guarantee: exactly-once, batch_size: 10}\n",
    )
    s = load_settings(path)
    assert s.kafka.bootstrap_servers == "b:1"
    assert s.topics.inputs == ["a", "b"]
    assert s.topics.transformation_by_topic == {"a": "geo_features"}
    assert s.processing.guarantee == "exactly-once"
    assert s.processing.batch_size == 10


def test_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "kafka: {bootstrap_servers: 'file:1', group_id: from-file}\n")
    monkeypatch.setenv("INTERCEPTOR_KAFKA__BOOTSTRAP_SERVERS", "env:2")
    monkeypatch.setenv("INTERCEPTOR_TOPICS__INPUTS", "x, y")
    monkeypatch.setenv("INTERCEPTOR_PROCESSING__BATCH_SIZE", "42")
    s = load_settings(path)
    assert s.kafka.bootstrap_servers == "env:2"
    assert s.kafka.group_id == "from-file"  # not overridden: the file value stays
    assert s.topics.inputs == ["x", "y"]
    assert s.processing.batch_size == 42


def test_list_from_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERCEPTOR_TOPICS__INPUTS", '["p", "q"]')
    assert load_settings(None).topics.inputs == ["p", "q"]


def test_unknown_key_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "kafka: {bootstrap_server: 'typo:1'}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(path) in str(info.value)
    assert "kafka.bootstrap_server: unknown key" in str(info.value)


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="kafak: unknown key"):
        load_settings(_write(tmp_path, "kafak: {}\n"))


def test_unknown_key_from_environment_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERCEPTOR_PROCESSING__BATCHSIZE", "1")
    with pytest.raises(ConfigError, match="processing.batchsize: unknown key"):
        load_settings(None)


def test_bad_value_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="processing.guarantee"):
        load_settings(_write(tmp_path, "processing: {guarantee: at-most-once}\n"))


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(_write(tmp_path, "kafka: [\n"))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_settings(_write(tmp_path, "- a\n"))


def test_security_settings_pass_through_but_are_never_shown(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "kafka:\n  security: {security.protocol: SASL_SSL, sasl.mechanism: PLAIN,\n"
        "             sasl.username: u, sasl.password: hunter2}\n",
    )
    s = load_settings(path)
    assert s.kafka.security["sasl.password"].get_secret_value() == "hunter2"
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(s.model_dump())
    assert "hunter2" not in s.model_dump_json()


def test_only_security_keys_under_security(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a security"):
        load_settings(_write(tmp_path, "kafka: {security: {linger.ms: '5'}}\n"))


def test_client_settings_cannot_weaken_the_guarantee(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="enable.auto.commit"):
        load_settings(_write(tmp_path, "kafka: {client: {enable.auto.commit: true}}\n"))
    s = load_settings(_write(tmp_path, "kafka: {client: {fetch.min.bytes: 1024}}\n"))
    assert s.kafka.client == {"fetch.min.bytes": 1024}


def test_dev_salt_is_default_and_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    s = load_settings(None)
    assert s.audit.entity_salt.get_secret_value() == DEV_ENTITY_SALT
    assert s.audit.uses_dev_salt
    assert any("development salt" in r.message for r in caplog.records)


def test_short_salt_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERCEPTOR_AUDIT__ENTITY_SALT", "short")
    with pytest.raises(ConfigError, match="audit.entity_salt"):
        load_settings(None)


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(ValueError, match="frozen"):
        s.kafka = s.kafka  # type: ignore[misc]


def test_example_config_documents_every_key_with_its_default() -> None:
    import yaml

    example = Path(__file__).resolve().parents[2] / "examples" / "interceptor.yaml"
    assert load_settings(example) == Settings()
    written = yaml.safe_load(example.read_text(encoding="utf-8"))
    defaults = Settings().model_dump()
    assert written.keys() == defaults.keys()
    for section, values in defaults.items():
        assert written[section].keys() == values.keys(), section
