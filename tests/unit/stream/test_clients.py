"""TLS and SASL settings reach every librdkafka client, and nothing can undo the guarantees.

The embedded broker cannot serve TLS (Tansu 0.6 rejects ``--cert`` with ``--key``, and with
``--cert`` alone it keeps speaking plaintext), so the pass-through is checked on the configs the
clients are built from.
"""

from __future__ import annotations

import pytest

from interceptor.config import Settings
from interceptor.stream.clients import (
    admin_config,
    consumer_config,
    producer_config,
    state_consumer_config,
    transactional_id,
)

SECURITY = {
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "interceptor",
    "sasl.password": "s3cret-pw",
    "ssl.ca.location": "/etc/kafka/ca.pem",
    "ssl.certificate.location": "/etc/kafka/client.pem",
    "ssl.key.location": "/etc/kafka/client.key",
    "ssl.key.password": "key-pw",
    "ssl.endpoint.identification.algorithm": "https",
}


@pytest.fixture
def settings() -> Settings:
    return Settings(
        kafka={"bootstrap_servers": "kafka-1:9093", "security": SECURITY},
        processing={"guarantee": "exactly-once"},
    )


def test_every_client_gets_the_security_settings_in_clear(settings: Settings) -> None:
    configs = {
        "admin": admin_config(settings),
        "consumer": consumer_config(settings),
        "state": state_consumer_config(settings, "privacy.consent"),
        "producer": producer_config(settings),
        "transactional": producer_config(settings, transactional=True),
    }
    for name, config in configs.items():
        for key, value in SECURITY.items():
            assert config[key] == value, f"{name}: {key}"
        assert config["bootstrap.servers"] == "kafka-1:9093"


def test_secrets_are_not_shown_by_the_settings(settings: Settings) -> None:
    shown = repr(settings) + str(settings.model_dump())
    assert "s3cret-pw" not in shown and "key-pw" not in shown


def test_the_guarantees_cannot_be_configured_away(settings: Settings) -> None:
    consumer = consumer_config(settings)
    assert consumer["enable.auto.commit"] is False
    assert consumer["isolation.level"] == "read_committed"
    assert state_consumer_config(settings, "t")["isolation.level"] == "read_committed"
    producer = producer_config(settings, transactional=True)
    assert producer["enable.idempotence"] is True and producer["acks"] == "all"
    assert producer["transactional.id"] == transactional_id(settings)


@pytest.mark.parametrize("key", ["security.protocol", "sasl.password", "isolation.level"])
def test_security_and_reserved_keys_are_refused_under_client(key: str) -> None:
    with pytest.raises(ValueError, match="not here"):
        Settings(kafka={"client": {key: "x"}})


def test_security_takes_only_security_keys() -> None:
    with pytest.raises(ValueError, match="not a security"):
        Settings(kafka={"security": {"linger.ms": "5"}})
