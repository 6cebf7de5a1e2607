"""Consumer-group rebalance callbacks: what leaves is settled and committed first."""

from __future__ import annotations

import logging

from confluent_kafka import Consumer, TopicPartition

from interceptor.health import HealthState
from interceptor.stream.settle import Settler

__all__ = ["RebalanceListener"]

log = logging.getLogger(__name__)


class RebalanceListener:
    """``on_assign`` / ``on_revoke`` / ``on_lost`` for ``Consumer.subscribe``."""

    def __init__(self, settler: Settler, health: HealthState) -> None:
        self._settler = settler
        self._health = health

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._health.set("group_joined", True)
        if partitions:
            log.info("assigned %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions))

    def on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Settle and commit synchronously what this instance did for the partitions it loses."""
        keys = [(p.topic, p.partition) for p in partitions]
        self._settler.revoke(keys)
        if keys:
            log.info("revoked %s", ", ".join(f"{t}[{p}]" for t, p in keys))

    def on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Taken without a revocation (session timed out): nothing may be committed for them."""
        keys = [(p.topic, p.partition) for p in partitions]
        log.warning("partitions lost without revocation: %s", keys)
        self._settler.lost(keys)
