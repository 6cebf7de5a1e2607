"""Timed detector work between batches: evaluations, snapshots, and the metrics they feed."""

from __future__ import annotations

import time
from collections.abc import Callable

from interceptor.envelope import OutputRecord
from interceptor.metrics import Metrics
from interceptor.proxy_metrics import record_detector_report
from interceptor.stream.protocols import PipelineLike

__all__ = ["DetectorUpkeep"]


class DetectorUpkeep:
    """Calls the pipeline's ``maintain`` between batches and publishes what it reports."""

    def __init__(
        self,
        pipeline: PipelineLike,
        metrics: Metrics,
        *,
        send_side: Callable[[list[OutputRecord]], None],
    ) -> None:
        self._pipeline = pipeline
        self._metrics = metrics
        self._send_side = send_side
        self._panel_records_counted = 0

    def poll(self) -> None:
        proxy = self._pipeline.proxy
        if proxy is None:
            return
        maintenance = self._pipeline.maintain(time.time())
        self._send_side(maintenance.outputs)
        fed = proxy.panel_records - self._panel_records_counted
        if fed:
            self._metrics.detector_panel_records.inc(fed)
            self._panel_records_counted = proxy.panel_records
        if maintenance.report is not None:
            self._metrics.audit_panel_entities.set(len(proxy.panel))
            record_detector_report(self._metrics, maintenance.report)

    def closing(self) -> None:
        """At shutdown, before the last settle: the final snapshot goes out with it."""
        if self._pipeline.proxy is not None:
            self._send_side(self._pipeline.maintain(time.time(), closing=True).outputs)

    def close(self) -> None:
        if self._pipeline.proxy is not None:
            self._pipeline.proxy.close()
