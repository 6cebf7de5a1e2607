"""Policy hot reload between batches: poll the pipeline, count and announce what changed."""

from __future__ import annotations

import time
from collections.abc import Callable

from interceptor.envelope import OutputRecord
from interceptor.metrics import Metrics
from interceptor.stream.protocols import PipelineLike

__all__ = ["PolicyReloads"]


class PolicyReloads:
    """Asks the pipeline for a reload at most every ``interval_s``; a swap happens only here,
    between batches, so every record of a batch is decided by one bundle."""

    def __init__(
        self,
        pipeline: PipelineLike,
        metrics: Metrics,
        *,
        interval_s: float,
        send_side: Callable[[list[OutputRecord]], None],
        on_change: Callable[[str], None],
    ) -> None:
        self._pipeline = pipeline
        self._metrics = metrics
        self._interval_s = interval_s
        self._send_side = send_side
        self._on_change = on_change
        self._next_poll = 0.0

    def poll(self) -> None:
        now = time.monotonic()
        if now < self._next_poll:
            return
        self._next_poll = now + self._interval_s
        before = self._pipeline.policy_hash
        reload = self._pipeline.poll_policy()
        if reload is None or (reload.accepted and reload.policy_hash == before):
            return  # nothing changed (e.g. a watcher's first look at the directory)
        result = "accepted" if reload.accepted else "rejected"
        self._metrics.policy_reloads.labels(result=result).inc()
        self._metrics.set_policy(reload.policy_hash)
        self._send_side(reload.outputs)
        self._on_change(reload.policy_hash)
