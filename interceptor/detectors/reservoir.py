"""A bounded sample of panel rows (feature keys + joint protected code) for the combination probe.

Algorithm R, vectorised per batch: row number c enters with probability capacity / c, replacing a
uniformly chosen slot. With a half-life the count c decays like the tables do, so recent rows are
favoured (a time-biased reservoir). Rows live only in memory: they are never part of a snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from interceptor.detectors.encoding import MISSING_KEY, FeatureKind

__all__ = ["Reservoir"]


class Reservoir:
    """Up to ``capacity`` rows of one transformation's panel traffic."""

    def __init__(self, capacity: int, rng: np.random.Generator) -> None:
        self.capacity = capacity
        self.size = 0
        self.seen = 0.0
        self.joint = np.zeros(capacity, dtype=np.int64)
        self.groups = np.zeros(capacity, dtype=np.int64)  # entity group, for grouped folds
        self.columns: dict[str, npt.NDArray[np.int64]] = {}
        self.kinds: dict[str, FeatureKind] = {}
        self._rng = rng

    def decay(self, factor: float) -> None:
        self.seen *= factor

    def add(
        self,
        columns: Mapping[str, npt.NDArray[np.int64]],
        kinds: Mapping[str, FeatureKind],
        joint: npt.NDArray[np.int64],
        groups: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """Offer a batch: ``columns`` maps feature name to the batch's keys; ``groups`` names
        each row's entity (rows of one entity must not straddle cross-fitting folds)."""
        n = len(joint)
        if n == 0 or self.capacity == 0:
            return
        for name, kind in kinds.items():
            if name not in self.columns:
                self.columns[name] = np.full(self.capacity, MISSING_KEY, dtype=np.int64)
                self.kinds[name] = kind
        fill = min(n, self.capacity - self.size)
        slots = np.full(n, -1, dtype=np.int64)
        slots[:fill] = np.arange(self.size, self.size + fill)
        if fill < n:
            counts = self.seen + fill + np.arange(1, n - fill + 1)
            drawn = np.floor(self._rng.random(n - fill) * counts).astype(np.int64)
            slots[fill:] = np.where(drawn < self.capacity, drawn, -1)
        self.size += fill
        self.seen += n
        # Later rows of the batch win a slot they share with earlier ones, as in sequential order.
        rows = np.flatnonzero(slots >= 0)[::-1]
        _, first = np.unique(slots[rows], return_index=True)
        rows = rows[first]
        targets = slots[rows]
        self.joint[targets] = joint[rows]
        self.groups[targets] = 0 if groups is None else groups[rows]
        for name, column in self.columns.items():
            keys = columns.get(name)
            column[targets] = MISSING_KEY if keys is None else keys[rows]

    def rows(self) -> tuple[list[str], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Feature names (sorted), an ``(size, features)`` key matrix, and the joint codes."""
        names = sorted(self.columns)
        if not names:
            return names, np.zeros((self.size, 0), dtype=np.int64), self.joint[: self.size].copy()
        matrix = np.stack([self.columns[name][: self.size] for name in names], axis=1)
        return names, matrix, self.joint[: self.size].copy()

    def row_groups(self) -> npt.NDArray[np.int64]:
        """The entity group of every held row, in :meth:`rows` order."""
        return self.groups[: self.size].copy()
