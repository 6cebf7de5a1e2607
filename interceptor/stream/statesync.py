"""The compacted state topics of a running instance: read whole at start-up, then kept current.

Consent and the transformation registry (and, with the detectors on, the audit panel and the
detector-state snapshots) are read to their end before the first batch (so no
record is decided with half the opt-outs loaded) and polled between batches afterwards. The
outputs their messages cause (deletion tombstones, registration audit events) are handed to
``send_side``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from interceptor.config import Settings
from interceptor.envelope import OutputRecord, SourceRecord
from interceptor.health import HealthState
from interceptor.metrics import Metrics
from interceptor.stream.protocols import PipelineLike
from interceptor.stream.state import StateLoadTimeoutError, StateTopicReader

__all__ = ["StateSync"]

log = logging.getLogger(__name__)


class StateSync:
    """The state-topic readers of one runner."""

    def __init__(
        self,
        settings: Settings,
        pipeline: PipelineLike,
        metrics: Metrics,
        health: HealthState,
        *,
        send_side: Callable[[list[OutputRecord]], None],
        on_change: Callable[[], None],
    ) -> None:
        self._settings = settings
        self._pipeline = pipeline
        self._metrics = metrics
        self._health = health
        self._send_side = send_side
        self._on_change = on_change
        self.readers: list[StateTopicReader] = []

    @property
    def applied(self) -> int:
        return sum(reader.applied for reader in self.readers)

    def load(self, should_stop: Callable[[], bool]) -> bool:
        """Read every state topic to its end; False if asked to stop first."""
        timeout = self._settings.processing.state_load_timeout_ms / 1000
        topics = self._settings.topics
        self.readers = [
            self._reader(topics.transformations, self._pipeline.on_manifest),
            self._reader(topics.consent, self._on_consent),
        ]
        if self._pipeline.proxy is not None:  # the detectors' panel and the other instances' tables
            self.readers += [
                self._reader(topics.audit_panel, self._pipeline.on_panel),
                self._reader(topics.detector_state, self._pipeline.on_detector_state),
            ]

        def loading_should_stop() -> bool:
            self._health.beat()  # loading a big topic is the loop being alive
            return should_stop()

        for reader in self.readers:
            while not reader.caught_up and not should_stop():
                self._health.set("state_loaded", False, f"reading {reader.topic}")
                self._health.beat()
                try:
                    self._send_side(reader.load(timeout, loading_should_stop))
                except StateLoadTimeoutError as exc:
                    log.error("%s; still trying", exc)
        if should_stop():
            return False
        self._health.set("state_loaded", True)
        self._on_change()
        return True

    def poll(self) -> None:
        """Apply what arrived since the last call, without waiting."""
        for reader in self.readers:
            applied = reader.applied
            self._send_side(reader.poll())
            if reader.applied != applied:
                self._on_change()

    def close(self) -> None:
        for reader in self.readers:
            reader.close()

    def _reader(
        self, topic: str, handler: Callable[[SourceRecord], list[OutputRecord]]
    ) -> StateTopicReader:
        counter = self._metrics.state_records.labels(topic=topic)
        return StateTopicReader(
            self._settings,
            topic,
            handler,
            on_applied=counter.inc,
            on_error=lambda kind: self._metrics.broker_errors.labels(kind=kind).inc(),
        )

    def _on_consent(self, message: SourceRecord) -> list[OutputRecord]:
        outputs = self._pipeline.on_consent(message)
        deletions = sum(1 for o in outputs if o.destination == "clean" and o.value is None)
        if deletions:
            self._metrics.deletions.inc(deletions)
        return outputs
