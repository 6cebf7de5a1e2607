"""Is the cluster reachable? Client errors in, readiness and metrics out.

librdkafka retries connections by itself; what the interceptor adds is visibility: every
client error is counted by name in ``interceptor_broker_errors_total{kind}``, errors that mean
"cannot reach the cluster" make ``/readyz`` fail (without touching liveness), and the first
successful batch or metadata request after an outage makes it pass again. Fatal errors are
remembered for the loop to act on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from confluent_kafka import KafkaError, KafkaException, Message

from interceptor.health import HealthState
from interceptor.metrics import Metrics

__all__ = ["UNREACHABLE", "BrokerStatus"]

log = logging.getLogger(__name__)

#: librdkafka errors that mean "cannot reach the cluster" rather than "bad request".
UNREACHABLE: Final = frozenset(
    {KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE}
)
_RECHECK_S: Final = 2.0


class BrokerStatus:
    """Tracks reachability for ``/readyz`` and counts client errors."""

    def __init__(self, metrics: Metrics, health: HealthState) -> None:
        self._metrics = metrics
        self._health = health
        self.ok: bool | None = None  # unknown until the first contact
        self.fatal: KafkaError | None = None
        self._next_check = 0.0

    def client_error(self, error: KafkaError) -> None:
        """A librdkafka ``error_cb`` (or any client error): count it, act on its kind."""
        kind = error.name().lower().lstrip("_") if isinstance(error, KafkaError) else "unknown"
        self._metrics.broker_errors.labels(kind=kind).inc()
        if isinstance(error, KafkaError):
            if error.code() in UNREACHABLE:
                self.set(False, str(error))
            if error.fatal():
                self.fatal = error

    def counting_only(self, error: KafkaError) -> None:
        """Like :meth:`client_error`, but a fatal error is someone else's to handle."""
        fatal = self.fatal
        self.client_error(error)
        self.fatal = fatal

    def consumer_error(self, error: KafkaError, message: Message) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            return
        self.client_error(error)
        log.warning("consumer error on %s[%s]: %s", message.topic(), message.partition(), error)

    def set(self, ok: bool, reason: str = "") -> None:
        previous = self.ok
        if ok != previous or not ok:
            self._health.set("broker_reachable", ok, reason)
        if ok and previous is False:
            log.info("broker reachable again")
        elif not ok and previous is not False:
            log.warning("broker unreachable: %s", reason)
        self.ok = ok

    def recheck(self, list_topics: Callable[[], object]) -> None:
        """While unreachable, ask for metadata every few seconds; success means reachable."""
        now = time.monotonic()
        if self.ok or now < self._next_check:
            return
        self._next_check = now + _RECHECK_S
        try:
            list_topics()
        except KafkaException:
            return
        self.set(True)
