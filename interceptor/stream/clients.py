"""librdkafka client configurations built from :class:`~interceptor.config.Settings`.

The settings that carry the delivery guarantee (manual commits, idempotent acks=all producer,
read_committed) are fixed here and cannot be overridden from ``kafka.client``; everything else
(security, tuning) is passed through.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any, Final

from interceptor.config import Settings

__all__ = [
    "ASSIGNMENT_STRATEGY",
    "admin_config",
    "base_config",
    "consumer_config",
    "producer_config",
    "state_consumer_config",
    "transactional_id",
]

#: Incremental rebalancing: a joining instance does not stop the others (checked on Tansu and
#: Kafka). ``kafka.client: {partition.assignment.strategy: range}`` switches back to eager.
ASSIGNMENT_STRATEGY: Final = "cooperative-sticky"

_LIBRDKAFKA_LOG: Final = logging.getLogger("librdkafka")

_PRODUCER_TUNING: Final[dict[str, Any]] = {
    "linger.ms": 5,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 500_000,
    "queue.buffering.max.kbytes": 1_048_576,
}


def base_config(settings: Settings) -> dict[str, Any]:
    """Bootstrap, security and the free-form client settings shared by every client.

    librdkafka's own log lines go to the ``librdkafka`` Python logger instead of stderr, so they
    follow the process's logging setup (and do not tear through a live progress display).
    """
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "logger": _LIBRDKAFKA_LOG,
    }
    config.update({k: v.get_secret_value() for k, v in settings.kafka.security.items()})
    return config


def _with_client_extras(settings: Settings, config: dict[str, Any]) -> dict[str, Any]:
    return {**config, **settings.kafka.client}


def admin_config(settings: Settings) -> dict[str, Any]:
    return base_config(settings)


def consumer_config(
    settings: Settings,
    *,
    stats_cb: Callable[[str], None] | None = None,
    error_cb: Callable[[Any], None] | None = None,
    statistics_interval_ms: int = 5000,
) -> dict[str, Any]:
    """The input consumer: group member, manual commits, read_committed."""
    config = _with_client_extras(
        settings,
        {
            **base_config(settings),
            "group.id": settings.kafka.group_id,
            "session.timeout.ms": settings.kafka.session_timeout_ms,
            "partition.assignment.strategy": ASSIGNMENT_STRATEGY,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
            "statistics.interval.ms": statistics_interval_ms if stats_cb else 0,
        },
    )
    config.update(
        {
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
        }
    )
    if stats_cb is not None:
        config["stats_cb"] = stats_cb
    if error_cb is not None:
        config["error_cb"] = error_cb
    return config


def state_consumer_config(settings: Settings, topic: str) -> dict[str, Any]:
    """A reader of a compacted state topic: assigned, never committing, sees partition ends."""
    config = _with_client_extras(settings, base_config(settings))
    # librdkafka insists on a group id, but this consumer never joins or commits with it.
    config.pop("partition.assignment.strategy", None)
    config.update(
        {
            "group.id": f"{settings.kafka.group_id}.state.{topic}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
        }
    )
    return config


def transactional_id(settings: Settings) -> str:
    """Stable per instance, so a restarted instance fences its own zombie."""
    if settings.kafka.transactional_id:
        return settings.kafka.transactional_id
    host = os.environ.get("HOSTNAME") or socket.gethostname()
    return f"{settings.kafka.group_id}-{host}"


def producer_config(
    settings: Settings,
    *,
    error_cb: Callable[[Any], None] | None = None,
    on_delivery: Callable[[Any, Any], None] | None = None,
    transactional: bool = False,
) -> dict[str, Any]:
    """The output producer: idempotent, acks=all; error-only delivery reports (see commits)."""
    config = _with_client_extras(settings, {**base_config(settings), **_PRODUCER_TUNING})
    config.pop("partition.assignment.strategy", None)
    config.update({"enable.idempotence": True, "acks": "all", "delivery.report.only.error": True})
    # Room for the largest accepted record plus the headers its output carries.
    config.setdefault("message.max.bytes", settings.processing.max_record_bytes + 100_000)
    if transactional:
        config["transactional.id"] = transactional_id(settings)
    if error_cb is not None:
        config["error_cb"] = error_cb
    if on_delivery is not None:
        config["on_delivery"] = on_delivery
    return config
