"""A bounded uniform sample of a file's rows (reservoir sampling), kept as raw column values.

The combination probe is fitted on a sample of rows; keeping the raw values (rather than the
bank's keys) lets the scan decide which features go into it after the tables have been assessed,
so that columns the sparsity guard calls ID-like can be left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["RowSample"]

Column = npt.NDArray[Any]


class RowSample:
    """Up to ``capacity`` rows, each kept with probability capacity / rows seen (algorithm R)."""

    def __init__(self, names: Sequence[str], capacity: int, *, seed: int = 0) -> None:
        if capacity < 1:
            raise ValueError("a row sample needs a capacity of at least 1")
        self.names = tuple(names)
        self.capacity = capacity
        self.seen = 0
        self._rng = np.random.default_rng(seed)
        self._columns: dict[str, Column] = {}
        self._joint = np.empty(0, dtype=np.int64)
        self._folds = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._joint)

    def add(
        self,
        columns: Mapping[str, Column],
        joint: npt.NDArray[np.int64],
        folds: npt.NDArray[np.int64],
    ) -> None:
        """Offer a batch of rows (``columns`` holds at least :attr:`names`)."""
        rows = len(joint)
        if rows == 0:
            return
        room = self.capacity - len(self)
        fill = min(room, rows)
        if fill:
            for name in self.names:
                head = columns[name][:fill]
                old = self._columns.get(name)
                self._columns[name] = head.copy() if old is None else np.concatenate([old, head])
            self._joint = np.concatenate([self._joint, joint[:fill]])
            self._folds = np.concatenate([self._folds, folds[:fill]])
        if fill < rows:
            # Row number i (1-based over the file) takes a random slot with probability k / i;
            # of several rows drawing one slot, the last wins, as in sequential order.
            numbers = self.seen + np.arange(fill + 1, rows + 1)
            slots = np.floor(self._rng.random(rows - fill) * numbers).astype(np.int64)
            chosen = np.flatnonzero(slots < self.capacity)[::-1]
            _, first = np.unique(slots[chosen], return_index=True)
            source = chosen[first] + fill
            target = slots[chosen[first]]
            for name in self.names:
                self._columns[name][target] = columns[name][source]
            self._joint[target] = joint[source]
            self._folds[target] = folds[source]
        self.seen += rows

    def columns(self, names: Sequence[str]) -> dict[str, Column]:
        """The sampled values of ``names``."""
        return {name: self._columns[name] for name in names if name in self._columns}

    @property
    def joint(self) -> npt.NDArray[np.int64]:
        return self._joint

    @property
    def folds(self) -> npt.NDArray[np.int64]:
        return self._folds
