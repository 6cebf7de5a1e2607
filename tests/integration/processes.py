"""``interceptor run`` as a child process, for tests that kill it with SIGKILL."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import Consumer, Producer, TopicPartition

from interceptor.config import Settings
from tests.conftest import REPO


def config_file(settings: Settings, path: Path) -> Path:
    data = settings.model_dump(mode="json")
    data["audit"]["entity_salt"] = settings.audit.entity_salt.get_secret_value()
    data["kafka"]["security"] = {
        k: v.get_secret_value() for k, v in settings.kafka.security.items()
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def start(config: Path, log: Path, **env_overrides: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERCEPTOR_")}
    env.update(env_overrides)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "interceptor", "run", "--config", str(config)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def committed(settings: Settings, topic: str, partitions: int) -> dict[int, int]:
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": settings.kafka.group_id}
    )
    try:
        result = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=10
        )
        return {tp.partition: tp.offset for tp in result}
    finally:
        consumer.close()


def broker_hides_aborted_transactions(bootstrap: str, topic: str) -> bool:
    """Does a ``read_committed`` consumer skip the records of an aborted transaction?

    Kafka does; the embedded broker (Tansu 0.6) hides open transactions but returns aborted ones.
    """
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": uuid.uuid4().hex})
    producer.init_transactions(10)
    producer.begin_transaction()
    producer.produce(topic, b"aborted")
    producer.flush(10)
    producer.abort_transaction(10)
    producer.begin_transaction()
    producer.produce(topic, b"committed")
    producer.commit_transaction(10)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": uuid.uuid4().hex,
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
        }
    )
    seen: list[Any] = []
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        while b"committed" not in seen:
            batch = consumer.consume(10, 5)
            if not batch:
                break
            seen += [m.value() for m in batch if m.error() is None]
    finally:
        consumer.close()
    return b"aborted" not in seen
