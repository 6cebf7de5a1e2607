"""Frames and views: where compiled conditions read their values from.

A :class:`Frame` holds one batch and builds each batch-wide column the first time a rule asks for it
(one pass over the records per referenced context key, never one per rule). A :class:`View` is a
set of rows of that batch, usually the records of one manifest or the records of one manifest
that carry one feature; inside such a view every static subject is a single known value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from interceptor.policy.batch import BatchInput, ProxyReading
from interceptor.policy.columns import (
    BoolArray,
    BoolColumn,
    Column,
    IntArray,
    NumberColumn,
    ValueColumn,
)
from interceptor.policy.facts import FeatureFacts, TransformationFacts, proxy_value, static_value
from interceptor.policy.geo import geo_cells_km2
from interceptor.policy.predicates import LeafCheck
from interceptor.policy.subjects import Source, Subject

__all__ = ["Frame", "Truth", "View"]

Truth = bool | BoolArray
"""A condition's result over a view: one answer for all its rows, or one per row."""

_SECONDS_PER_DAY = 86_400.0


class Frame:
    """One batch, with its batch-wide columns built on first use."""

    def __init__(self, batch: BatchInput, facts: Sequence[TransformationFacts]) -> None:
        self.batch = batch
        self.facts = facts
        self._columns: dict[str, Column] = {}
        self._manifest_truth: dict[int, BoolArray] = {}
        self._record_truth: dict[int, BoolArray] = {}

    def column(self, subject: Subject) -> Column:
        column = self._columns.get(subject.path)
        if column is None:
            column = self._columns[subject.path] = self._build(subject)
        return column

    def _build(self, subject: Subject) -> Column:
        batch, attribute = self.batch, subject.attribute
        if subject.source is Source.CONSENT:
            if attribute == "age":
                return NumberColumn(batch.consent.age)
            flags: BoolArray = getattr(batch.consent, attribute)
            return BoolColumn(flags)
        if subject.source is Source.CONTEXT:
            return ValueColumn.of([context.get(attribute) for context in batch.context])
        if attribute == "entity_id":
            return ValueColumn.of(list(batch.entity_id))
        times = np.asarray(batch.event_time, dtype=np.float64)
        if attribute == "event_time":
            return NumberColumn(times)
        return NumberColumn((batch.now - times) / _SECONDS_PER_DAY)

    def record_truth(self, check: LeafCheck) -> BoolArray:
        """A per-record leaf's answer for every record of the batch, computed once per batch.

        Rules and views share it: each view takes its rows from this one array.
        """
        truth = self._record_truth.get(id(check))
        if truth is None:
            assert check.test_column is not None
            truth = self._record_truth[id(check)] = check.test_column(self.column(check.subject))
        return truth

    def manifest_truth(self, check: LeafCheck) -> BoolArray:
        """A static leaf's answer for each manifest of the batch, computed once per batch."""
        truth = self._manifest_truth.get(id(check))
        if truth is None:
            answers = [check.test(static_value(check.subject, facts, None)) for facts in self.facts]
            truth = self._manifest_truth[id(check)] = np.array(answers, dtype=np.bool_)
        return truth


class View:
    """Rows of a frame (``None`` = all of them), with what is fixed for those rows."""

    def __init__(
        self,
        frame: Frame,
        rows: IntArray | None,
        *,
        facts: TransformationFacts | None = None,
        feature: FeatureFacts | None = None,
        proxy: ProxyReading | None = None,
    ) -> None:
        self.frame = frame
        self.rows = rows
        self.facts = facts
        self.feature = feature
        self.proxy = proxy
        self._columns: dict[str, Column] = {}

    def row_ids(self) -> IntArray:
        """The batch row of each view row."""
        return self.rows if self.rows is not None else np.arange(self.frame.batch.n)

    def column(self, subject: Subject) -> Column:
        column = self._columns.get(subject.path)
        if column is None:
            if subject.source is Source.FEATURE_VALUE:
                column = self._feature_column(subject)
            else:
                column = self.frame.column(subject)
                column = column if self.rows is None else column.take(self.rows)
            self._columns[subject.path] = column
        return column

    def _feature_column(self, subject: Subject) -> Column:
        assert self.feature is not None and isinstance(self.feature.name, str)
        name, features = self.feature.name, self.frame.batch.features
        values = [features[row].get(name) for row in self.row_ids().tolist()]
        if subject.attribute == "value":
            return ValueColumn.of(values)
        if self.feature.type == "geo":
            return NumberColumn(geo_cells_km2(values))
        return NumberColumn(np.full(len(values), np.nan))

    def static_truth(self, check: LeafCheck) -> Truth:
        if self.facts is not None:
            return check.test(static_value(check.subject, self.facts, self.feature))
        index = self.frame.batch.manifest_index
        return self.frame.manifest_truth(check)[index if self.rows is None else index[self.rows]]

    def record_truth(self, check: LeafCheck) -> BoolArray:
        if check.subject.source is Source.FEATURE_VALUE:
            assert check.test_column is not None
            return check.test_column(self.column(check.subject))
        truth = self.frame.record_truth(check)
        return truth if self.rows is None else truth[self.rows]

    def proxy_truth(self, check: LeafCheck) -> bool:
        return check.test(proxy_value(check.subject, self.proxy))

    def value(self, subject: Subject, i: int) -> object:
        """The value row ``i`` of this view holds for ``subject`` (for explanations)."""
        if subject.source.is_static:
            row = int(self.row_ids()[i])
            facts = self.facts or self.frame.facts[int(self.frame.batch.manifest_index[row])]
            return static_value(subject, facts, self.feature)
        if subject.source is Source.PROXY:
            return proxy_value(subject, self.proxy)
        return self.column(subject).value(i)
