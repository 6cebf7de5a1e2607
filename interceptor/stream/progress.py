"""What the loop has done so far, for a live progress line: written by the loop, read by anyone."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["ProgressBook", "RunnerProgress"]


@dataclass(frozen=True)
class RunnerProgress:
    """Counts for a live progress line; a snapshot, safe to read from another thread."""

    records_in: int = 0
    batches: int = 0
    outputs: dict[str, int] = field(default_factory=dict)  # destination -> routed outputs
    decisions: dict[str, int] = field(default_factory=dict)
    commits: int = 0
    rewinds: int = 0
    state_messages: int = 0
    policy_hash: str = ""
    started_at: float = 0.0  # run() called
    first_batch_at: float = 0.0  # first records consumed (after start-up and the group join)
    last_batch_at: float = 0.0  # last batch settled
    evaluation_faults: int = 0  # batches whose pipeline raised and were routed by the fallback
    producer_restarts: int = 0  # transactional producers recreated after a fatal error


class ProgressBook:
    """The loop's running totals behind a lock; :meth:`snapshot` copies them out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._progress = RunnerProgress()
        self._outputs: Counter[str] = Counter()
        self._decisions: Counter[str] = Counter()

    def set(self, **changes: Any) -> None:
        with self._lock:
            self._progress = replace(self._progress, **changes)

    def add(self, **increments: int) -> None:
        """Add to counters: ``add(commits=1)``."""
        with self._lock:
            p = self._progress
            self._progress = replace(p, **{k: getattr(p, k) + v for k, v in increments.items()})

    def batch(
        self,
        *,
        records: int,
        routed: Mapping[str, int],
        decisions: Mapping[str, int],
        consumed_at: float,
        settled_at: float,
    ) -> None:
        with self._lock:
            self._outputs.update(routed)
            self._decisions.update(decisions)
            p = self._progress
            self._progress = replace(
                p,
                records_in=p.records_in + records,
                batches=p.batches + 1,
                first_batch_at=p.first_batch_at or consumed_at,
                last_batch_at=settled_at,
            )

    def snapshot(self, **overrides: Any) -> RunnerProgress:
        with self._lock:
            return replace(
                self._progress,
                outputs=dict(self._outputs),
                decisions=dict(self._decisions),
                **overrides,
            )
