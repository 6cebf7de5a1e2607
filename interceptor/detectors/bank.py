"""The detectors' state, shared by the stream and the offline audit: tables in, findings out.

One :class:`FeatureTable` per (transformation, feature), fed only with audit-panel rows. A
feature is categorical if its first non-null value is a str or bool and numeric if it is an int or
float, and stays so. With a half-life, every table decays by 2^(-dt / half_life), and a remote
instance's snapshot is decayed by its age before it is added, so the merged view is the same
whichever instance computes it.

``evaluate`` merges the bank's own tables with other instances' snapshots and runs
:func:`assess`; ``run_combination`` fits the multi-feature probe on the row reservoir and is meant
to be scheduled off the hot path (its latest results ride along in every :class:`Assessment`).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from interceptor.detectors.assess import (
    NUMERIC_BINS,
    PERMUTATIONS,
    TOP_K,
    ProxyFinding,
    Reading,
    Thresholds,
    assess,
    worst_status,
)
from interceptor.detectors.combination import CombinationResult, combination_probe
from interceptor.detectors.encoding import (
    MISSING_KEY,
    RESERVED_FLOOR,
    FeatureKind,
    encode_values,
    kind_of,
)
from interceptor.detectors.protected import ProtectedSchema
from interceptor.detectors.reservoir import Reservoir
from interceptor.detectors.snapshot import BankSnapshot
from interceptor.detectors.table import DEFAULT_MAX_KEYS, FeatureTable

__all__ = ["Assessment", "BankSnapshot", "DetectorBank"]

FeatureKey = tuple[str, str]

_SEED: Final = 0x5EED

_BAD_HALF_LIFE = "half_life_s must be positive, got {0}"
_LENGTHS = "features ({0}), joint codes ({1}) and folds ({2}) must have one length"


@dataclass(frozen=True)
class Assessment:
    """One evaluation: every finding, the per-feature reading the rules see, combination probes."""

    findings: list[ProxyFinding]
    readings: dict[FeatureKey, Reading]
    combinations: list[CombinationResult] = field(default_factory=list)


class DetectorBank:
    """Contingency tables of every (transformation, feature) against the joint protected code."""

    def __init__(
        self,
        schema: ProtectedSchema,
        thresholds: Thresholds | None = None,
        half_life_s: float | None = None,
        top_k: int = TOP_K,
        numeric_bins: int = NUMERIC_BINS,
        max_keys: int = DEFAULT_MAX_KEYS,
        reservoir_rows: int = 50_000,
        *,
        permutations: int = PERMUTATIONS,
        seed: int = _SEED,
    ) -> None:
        if half_life_s is not None and not half_life_s > 0:
            raise ValueError(_BAD_HALF_LIFE.format(half_life_s))
        self.schema = schema
        self.thresholds = thresholds or Thresholds()
        self.half_life_s = half_life_s
        self.top_k = top_k
        self.numeric_bins = numeric_bins
        self.max_keys = max_keys
        self.reservoir_rows = reservoir_rows
        self.permutations = permutations
        self.seed = seed
        self._tables: dict[FeatureKey, FeatureTable] = {}
        self._reservoirs: dict[str, Reservoir] = {}
        self._combinations: list[CombinationResult] = []
        self._stamp: float | None = None
        self._rng = np.random.default_rng(seed)
        # run_combination may run in a worker thread while observe goes on: it only reads the
        # reservoirs, and copies them under this lock.
        self._rows_lock = threading.Lock()

    # ----------------------------------------------------------------------------- ingest

    def observe(
        self,
        transformation: str,
        features: Sequence[Mapping[str, object]],
        joint_codes: npt.NDArray[np.int64],
        folds: npt.NDArray[np.integer[Any]],
        now: float,
        groups: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """Count a batch of panel rows (``features[i]`` belongs to ``joint_codes[i]``).

        ``groups`` names each row's entity for the combination probe's folds.
        """
        if len(features) != len(joint_codes) or len(features) != len(folds):
            raise ValueError(_LENGTHS.format(len(features), len(joint_codes), len(folds)))
        if not features:
            return
        names = dict.fromkeys(name for row in features for name in row)
        columns = {name: [row.get(name) for row in features] for name in names}
        # A feature counts only in the records that carry it (an explicit null is MISSING): the
        # tables then do not depend on which records happened to share a batch.
        present = {
            name: np.fromiter((name in row for row in features), np.bool_, len(features))
            for name in names
        }
        self.observe_columns(
            transformation, columns, joint_codes, folds, now, present=present, groups=groups
        )

    def observe_columns(
        self,
        transformation: str,
        columns: Mapping[str, Sequence[object] | npt.NDArray[Any]],
        joint_codes: npt.NDArray[np.int64],
        folds: npt.NDArray[np.integer[Any]],
        now: float,
        *,
        present: Mapping[str, npt.NDArray[np.bool_]] | None = None,
        groups: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """:meth:`observe` for data already held as columns (the offline path).

        ``present[name]`` marks the rows that carry the feature; the others are not counted in
        its table (the reservoir sees them as missing).
        """
        lengths = {len(column) for column in columns.values()} | {len(joint_codes), len(folds)}
        if len(lengths) > 1:
            raise ValueError(_LENGTHS.format(sorted(lengths), len(joint_codes), len(folds)))
        if len(joint_codes) == 0:
            return
        self._advance(now)
        joint = np.asarray(joint_codes, dtype=np.int64)
        fold = np.asarray(folds, dtype=np.int64)
        keys_by_name: dict[str, npt.NDArray[np.int64]] = {}
        kinds: dict[str, FeatureKind] = {}
        for name, column in columns.items():
            table = self._tables.get((transformation, name))
            kind = table.kind if table is not None else _column_kind(column)
            if kind is None:
                continue
            if table is None:
                table = FeatureTable(kind, self.schema.joint_size, max_keys=self.max_keys)
                self._tables[(transformation, name)] = table
            keys = encode_values(_as_sequence(column), kind)
            mask = present.get(name) if present is not None else None
            if mask is None or mask.all():
                table.add(keys, joint, fold)
            else:
                table.add(keys[mask], joint[mask], fold[mask])
            keys_by_name[name], kinds[name] = keys, kind
        if self.reservoir_rows:
            with self._rows_lock:
                reservoir = self._reservoirs.get(transformation)
                if reservoir is None:
                    reservoir = Reservoir(self.reservoir_rows, self._rng)
                    self._reservoirs[transformation] = reservoir
                reservoir.add(keys_by_name, kinds, joint, groups)

    def _advance(self, now: float) -> None:
        """Decay everything held to time ``now`` (time never runs backwards here)."""
        if self._stamp is None or now <= self._stamp:
            self._stamp = now if self._stamp is None else self._stamp
            return
        factor = self._factor(now - self._stamp)
        self._stamp = now
        if factor != 1.0:
            for table in self._tables.values():
                table.decay(factor)
            with self._rows_lock:
                for reservoir in self._reservoirs.values():
                    reservoir.decay(factor)

    def _factor(self, age: float) -> float:
        if self.half_life_s is None or age <= 0:
            return 1.0
        return math.exp2(-age / self.half_life_s)

    # ----------------------------------------------------------------------------- evaluate

    def merged_tables(
        self, now: float, remote: Iterable[BankSnapshot] = ()
    ) -> dict[FeatureKey, FeatureTable]:
        """Own tables plus every remote snapshot's, each decayed to ``now``.

        A remote table that cannot be added (the feature was typed differently there, or another
        protected schema) is left out rather than corrupting the local one.
        """
        self._advance(now)
        merged = dict(self._tables)
        for snapshot in remote:
            factor = self._factor(now - snapshot.time)
            for key, table in snapshot.tables.items():
                incoming = table.copy()
                incoming.decay(factor)
                mine = merged.get(key)
                if mine is None:
                    if table.joint_size == self.schema.joint_size:
                        merged[key] = incoming
                elif _compatible(mine, incoming):
                    merged[key] = mine + incoming
        return merged

    def evaluate(self, now: float, remote: Iterable[BankSnapshot] = ()) -> Assessment:
        """Findings over the merged tables (include other instances' latest snapshots in
        ``remote``; never this instance's own, which is already in the bank)."""
        tables = self.merged_tables(now, remote)
        findings = assess(
            tables,
            self.schema,
            self.thresholds,
            np.random.default_rng(self.seed),
            top_k=self.top_k,
            numeric_bins=self.numeric_bins,
            permutations=self.permutations,
        )
        grouped: dict[FeatureKey, list[ProxyFinding]] = defaultdict(list)
        for finding in findings:
            grouped[(finding.transformation, finding.feature)].append(finding)
        readings = {key: worst_status(found) for key, found in grouped.items()}
        return Assessment(findings, readings, list(self._combinations))

    def run_combination(self, now: float) -> list[CombinationResult]:
        """Fit the combination probe per transformation (with at least two features) and
        attribute on the reservoir rows.

        Safe to call from a worker thread while :meth:`observe` runs: it touches no table and
        copies the reservoir rows under a lock before fitting. ``now`` only labels the run.
        """
        with self._rows_lock:
            copies = [
                (transformation, reservoir.rows(), reservoir.row_groups(), dict(reservoir.kinds))
                for transformation, reservoir in sorted(self._reservoirs.items())
            ]
            id_like = {key for key, table in self._tables.items() if _looks_like_an_id(table)}
        results: list[CombinationResult] = []
        for transformation, (all_names, all_keys, joint), groups, kinds in copies:
            # ID-like columns only let a model recall individuals (and slow it down): left out.
            columns = [j for j, n in enumerate(all_names) if (transformation, n) not in id_like]
            names = [all_names[j] for j in columns]
            if len(names) < 2 or len(joint) < self.thresholds.min_samples:
                continue  # one feature alone is the pairwise tables' job
            keys = all_keys[:, columns]
            matrix = _probe_codes(keys, [kinds[name] for name in names])
            per_attribute = self.schema.decode(joint)
            for attribute, codes in zip(self.schema.attributes, per_attribute, strict=True):
                known = codes < attribute.unknown
                if known.sum() < self.thresholds.min_samples:
                    continue
                result = combination_probe(
                    matrix[known],
                    codes[known],
                    seed=self.seed,
                    attribute=attribute.name,
                    categorical=[kinds[name] == "categorical" for name in names],
                    score=self.thresholds.proxy,
                    groups=groups[known],
                )
                results.append(
                    CombinationResult(
                        result.attribute,
                        result.n,
                        result.ber,
                        result.auc,
                        result.predictive_information,
                        result.flagged,
                        transformation,
                        tuple(names),
                    )
                )
        self._combinations = results
        return results

    # ----------------------------------------------------------------------------- state

    def snapshot(self, now: float, instance: str) -> BankSnapshot:
        """This instance's tables as of ``now`` (copies; the reservoir is never included)."""
        self._advance(now)
        return BankSnapshot(instance, now, {k: t.copy() for k, t in self._tables.items()})

    def restore(self, snapshot: BankSnapshot) -> None:
        """Add a snapshot's tables into the bank (on restart: this instance's own last one)."""
        if self._stamp is None:
            self._stamp = snapshot.time
        elif snapshot.time > self._stamp:
            self._advance(snapshot.time)
        factor = self._factor(self._stamp - snapshot.time)
        for key, table in snapshot.tables.items():
            incoming = table.copy()
            incoming.decay(factor)
            mine = self._tables.get(key)
            if mine is None:
                if table.joint_size == self.schema.joint_size:
                    self._tables[key] = incoming
            elif _compatible(mine, incoming):
                self._tables[key] = mine + incoming

    def samples(self) -> dict[FeatureKey, int]:
        """Effective sample size per table (the row count when nothing decays)."""
        return {key: round(table.n_eff) for key, table in self._tables.items()}

    def tables(self) -> dict[FeatureKey, FeatureTable]:
        return dict(self._tables)

    def kinds(self) -> dict[FeatureKey, FeatureKind]:
        return {key: table.kind for key, table in self._tables.items()}


def _first_kind(values: Sequence[object]) -> FeatureKind | None:
    for value in values:
        if value is not None:
            kind = kind_of(value)
            if kind is not None:
                return kind
    return None


def _column_kind(column: Sequence[object] | npt.NDArray[Any]) -> FeatureKind | None:
    if isinstance(column, np.ndarray) and column.dtype.kind in "iuf":
        return "numeric"
    if isinstance(column, np.ndarray) and column.dtype.kind in "bUS":
        return "categorical"
    return _first_kind(_as_sequence(column))


def _as_sequence(column: Sequence[object] | npt.NDArray[Any]) -> Sequence[object]:
    if isinstance(column, np.ndarray):
        if column.dtype.kind in "iuf":
            return column  # type: ignore[return-value]
        return column.tolist()  # type: ignore[no-any-return]
    return column


def _compatible(a: FeatureTable, b: FeatureTable) -> bool:
    return a.kind == b.kind and a.joint_size == b.joint_size and a.max_keys == b.max_keys


def _looks_like_an_id(table: FeatureTable) -> bool:
    """More distinct values than one per ten rows: the sparsity guard's ID test."""
    return table.kind == "categorical" and table.distinct_seen > table.rows_seen / 10


def _probe_codes(
    keys: npt.NDArray[np.int64], kinds: Sequence[FeatureKind]
) -> npt.NDArray[np.float64]:
    """Model inputs from reservoir keys: numeric grid keys are monotone, so they are used as
    numbers; categorical hashes become codes by frequency; MISSING becomes NaN."""
    matrix = np.full(keys.shape, np.nan)
    for j, kind in enumerate(kinds):
        column = keys[:, j]
        present = column < RESERVED_FLOOR
        if kind == "numeric":
            matrix[present, j] = column[present].astype(np.float64)
            continue
        values, codes, counts = np.unique(column[present], return_inverse=True, return_counts=True)
        order = np.lexsort((values, -counts))
        rank = np.empty(len(values), dtype=np.int64)
        rank[order] = np.arange(len(values))
        matrix[present, j] = rank[codes]
        matrix[column == MISSING_KEY, j] = np.nan
    return matrix
