"""Shared fixtures: one embedded broker per test session, unique names, produce/read helpers.

Kafka tests run in the default test command against the embedded broker; isolation comes from
uuid topic and group names, never from separate brokers.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from interceptor.config import Settings
from interceptor.embedded import EmbeddedBroker
from interceptor.stream.admin import TopicSpec, ensure_topics, wait_until_ready
from interceptor.stream.convert import source_record

REPO = Path(__file__).resolve().parents[1]

#: Group joins on the embedded broker take about half the session timeout.
TEST_SESSION_TIMEOUT_MS = 6000


@dataclass(frozen=True)
class ReadRecord:
    """One message read back from a topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode()
        return None

    @property
    def source(self) -> tuple[str, int, int] | None:
        """The input record an output came from (``interceptor-src-*`` headers)."""
        topic = self.header("interceptor-src-topic")
        partition = self.header("interceptor-src-partition")
        offset = self.header("interceptor-src-offset")
        if topic is None or partition is None or offset is None:
            return None
        return topic, int(partition), int(offset)


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """The one embedded broker of the session, on a free loopback port."""
    with EmbeddedBroker(ready_check=wait_until_ready) as running:
        yield running


@pytest.fixture
def bootstrap(broker: EmbeddedBroker) -> str:
    return broker.bootstrap


@pytest.fixture
def unique() -> Callable[[str], str]:
    """``unique("orders")`` → ``orders-<uuid>``: topic and group names no other test uses."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    return make


@pytest.fixture
def settings_factory(bootstrap: str, unique: Callable[[str], str]) -> Callable[..., Settings]:
    """Settings on the session broker with unique topics and group; sections override by dict."""

    def make(**sections: dict[str, Any]) -> Settings:
        run = unique("t")
        base: dict[str, Any] = {
            "kafka": {
                "bootstrap_servers": bootstrap,
                "group_id": f"{run}-group",
                "session_timeout_ms": TEST_SESSION_TIMEOUT_MS,
            },
            "topics": {
                "inputs": [f"{run}.raw"],
                "clean": f"{run}.clean",
                "quarantine": f"{run}.quarantine",
                "audit": f"{run}.audit",
                "deadletter": f"{run}.deadletter",
                "consent": f"{run}.consent",
                "audit_panel": f"{run}.panel",
                "transformations": f"{run}.transformations",
                "detector_state": f"{run}.detector",
            },
            "processing": {"batch_size": 500, "batch_timeout_ms": 50},
            "policies": {"path": str(REPO / "policies"), "reload_interval_ms": 200},
            "manifests": {"path": str(REPO / "examples" / "transformations")},
            "metrics": {"host": "127.0.0.1", "port": 0},
            "audit": {"entity_salt": "test-salt-0123456789abcdef"},
        }
        for section, values in sections.items():
            base.setdefault(section, {}).update(values)
        return Settings(**base)

    return make


@pytest.fixture
def create_topics() -> Callable[[Settings], None]:
    """Create every topic ``settings`` names (what the runner does at start-up)."""

    def make(settings: Settings) -> None:
        ensure_topics(settings)

    return make


@pytest.fixture
def create_topic(bootstrap: str) -> Callable[[str, int], None]:
    def make(name: str, partitions: int = 1) -> None:
        ensure_topics(
            Settings(kafka={"bootstrap_servers": bootstrap}), [TopicSpec(name, partitions)]
        )

    return make


Message = tuple[bytes | None, bytes | None] | tuple[bytes | None, bytes | None, list[Any]]


@pytest.fixture
def produce(bootstrap: str) -> Callable[..., None]:
    """``produce(topic, [(key, value[, headers]), ...], partition=None)``, flushed."""

    def send(topic: str, messages: Iterable[Message], partition: int | None = None) -> None:
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        errors: list[str] = []

        def report(err: KafkaError | None, _msg: Any) -> None:
            if err is not None:
                errors.append(str(err))

        for item in messages:
            key, value = item[0], item[1]
            headers = item[2] if len(item) > 2 else None
            kwargs: dict[str, Any] = {"on_delivery": report}
            if partition is not None:
                kwargs["partition"] = partition
            producer.produce(topic, value, key, headers=headers, **kwargs)
            producer.poll(0)
        assert producer.flush(30) == 0, "produce did not complete"
        assert not errors, errors

    return send


def read_topics(
    bootstrap: str, topics: Iterable[str], count: int, timeout_s: float = 30.0
) -> list[ReadRecord]:
    """Read until ``count`` messages were seen across ``topics`` or ``timeout_s`` passed.

    Counts by reading, never by watermarks (the embedded broker reports the start of the last
    batch as the high watermark). Assigns every partition from the beginning: no group join.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "fetch.wait.max.ms": 50,
        }
    )
    try:
        metadata = consumer.list_topics(timeout=10)
        assignment = [
            TopicPartition(topic, p, OFFSET_BEGINNING)
            for topic in topics
            if topic in metadata.topics
            for p in metadata.topics[topic].partitions
        ]
        consumer.assign(assignment)
        out: list[ReadRecord] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < count and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.2):
                if msg.error() is not None:
                    continue
                record = source_record(msg)
                out.append(
                    ReadRecord(
                        record.topic,
                        record.partition,
                        record.offset,
                        record.key,
                        record.value,
                        record.headers,
                    )
                )
        return out
    finally:
        consumer.close()


@pytest.fixture
def read(bootstrap: str) -> Callable[..., list[ReadRecord]]:
    """``read([topics], count, timeout_s=30)`` → the records (see :func:`read_topics`)."""

    def run(topics: Iterable[str], count: int, timeout_s: float = 30.0) -> list[ReadRecord]:
        return read_topics(bootstrap, topics, count, timeout_s)

    return run
