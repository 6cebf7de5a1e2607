"""Broker readiness and start-up topic creation.

A missing topic is created at start-up when the broker allows it (DESIGN section 9); "already
exists" is the normal case when several instances start together, and a broker that refuses
creation (no ACL) only earns a warning: the operator may have created the topics differently.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from interceptor.config import Settings
from interceptor.errors import InterceptorError
from interceptor.stream.clients import admin_config

__all__ = [
    "BrokerUnavailableError",
    "TopicSpec",
    "ensure_topics",
    "planned_topics",
    "wait_until_ready",
]

log = logging.getLogger(__name__)

_COMPACT: Final = {"cleanup.policy": "compact"}


class BrokerUnavailableError(InterceptorError, ConnectionError):
    """The broker did not answer a metadata request in time."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic the interceptor reads or writes, and how to create it."""

    name: str
    partitions: int
    compacted: bool = False


def wait_until_ready(
    bootstrap: str, timeout_s: float = 10.0, *, config: dict[str, Any] | None = None
) -> None:
    """Return once a metadata request (``list_topics``) succeeds; raise after ``timeout_s``."""
    admin = AdminClient({**(config or {}), "bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            admin.list_topics(timeout=min(2.0, max(remaining, 0.1)))
            return
        except KafkaException as exc:
            last = exc
            time.sleep(0.1)
    raise BrokerUnavailableError(f"broker {bootstrap} not ready after {timeout_s:.0f}s: {last}")


def planned_topics(settings: Settings) -> list[TopicSpec]:
    """Inputs and outputs with ``topics.partitions``; state topics compacted, one partition each
    for the small registries and ``topics.partitions`` for the per-entity ones."""
    t = settings.topics
    n = t.partitions
    specs = [TopicSpec(name, n) for name in t.inputs]
    specs += [TopicSpec(name, n) for name in (t.clean, t.quarantine, t.audit, t.deadletter)]
    specs += [
        TopicSpec(t.consent, n, compacted=True),
        TopicSpec(t.audit_panel, n, compacted=True),
        TopicSpec(t.transformations, 1, compacted=True),
        TopicSpec(t.detector_state, 1, compacted=True),
    ]
    unique: dict[str, TopicSpec] = {}
    for spec in specs:
        unique.setdefault(spec.name, spec)
    return list(unique.values())


def _new_topic(spec: TopicSpec, replication_factor: int) -> NewTopic:
    return NewTopic(
        spec.name,
        num_partitions=spec.partitions,
        replication_factor=replication_factor,
        config=dict(_COMPACT) if spec.compacted else {},
    )


def ensure_topics(
    settings: Settings, specs: Iterable[TopicSpec] | None = None, *, timeout_s: float = 15.0
) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    wanted = list(specs) if specs is not None else planned_topics(settings)
    admin = AdminClient(admin_config(settings))
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise BrokerUnavailableError(f"cannot list topics: {exc}") from exc
    missing = [spec for spec in wanted if spec.name not in existing]
    if not missing:
        return []
    rf = settings.topics.replication_factor
    futures = admin.create_topics(
        [_new_topic(spec, rf) for spec in missing], operation_timeout=timeout_s
    )
    created: list[str] = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            error = exc.args[0]
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            log.warning("could not create topic %s: %s", name, exc)
    if created:
        log.info("created topics: %s", ", ".join(sorted(created)))
    return sorted(created)
