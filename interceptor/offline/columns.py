"""Which columns an audit reads, and the protected schema inferred from the protected columns.

A protected column's levels are its distinct non-empty values, found in a first pass over that
column alone; a column with more than ``max_levels`` of them is refused, since it is an identifier
or a measurement rather than a protected attribute. Only level names and counts are kept.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Final

from rich.progress import Progress

from interceptor.detectors.protected import JOINT, ProtectedAttribute, ProtectedSchema
from interceptor.offline.errors import AuditInputError
from interceptor.offline.reader import DataSource, read_batches
from interceptor.offline.result import AttributeSummary

__all__ = ["MAX_JOINT_CELLS", "feature_columns", "infer_schema"]

#: Most cells of the joint protected code (levels + unknown, multiplied) one scan accepts.
MAX_JOINT_CELLS: Final = 4096

_NO_PROTECTED: Final = "--protected names no column"
_TWICE: Final = 'column "{column}" is named twice in {option}'
_BOTH: Final = 'column "{column}" is both protected and a feature'
_ENTITY_IS: Final = 'the entity column "{column}" cannot also be {role}'
_NO_FEATURES: Final = (
    "no feature columns left to scan (every column is protected, the entity or excluded)"
)
_RESERVED: Final = 'a protected column cannot be called "{column}" (the name of the joint code)'
_TOO_MANY_LEVELS: Final = (
    'protected column "{column}" has more than {limit} distinct values; a protected attribute '
    "has a few levels (race, sex, age band), not an identifier or a measurement "
    "(raise --max-levels if this is intended)"
)
_NO_LEVELS: Final = 'protected column "{column}" has no values in {path}'
_JOINT_TOO_LARGE: Final = (
    "the protected columns make {cells:,} joint cells (levels + unknown, multiplied), more "
    "than {limit:,}; audit fewer protected columns at once"
)


def _no_repeats(columns: Sequence[str], option: str) -> None:
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise AuditInputError(_TWICE.format(column=column, option=option))
        seen.add(column)


def feature_columns(
    source: DataSource,
    protected: Sequence[str],
    features: Sequence[str] | None,
    exclude: Sequence[str],
    entity: str | None,
) -> tuple[str, ...]:
    """The features to scan: those named, or every column that is not protected or the entity."""
    if not protected:
        raise AuditInputError(_NO_PROTECTED)
    _no_repeats(protected, "--protected")
    for column in protected:
        if column == JOINT:
            raise AuditInputError(_RESERVED.format(column=column))
    named = [*protected, *(features or ()), *exclude, *([entity] if entity else [])]
    source.require(named)
    if entity is not None and entity in protected:
        raise AuditInputError(_ENTITY_IS.format(column=entity, role="protected"))
    if features:
        _no_repeats(features, "--features")
        for column in features:
            if column in protected:
                raise AuditInputError(_BOTH.format(column=column))
            if column == entity:
                raise AuditInputError(_ENTITY_IS.format(column=entity, role="a feature"))
        chosen = [c for c in features if c not in exclude]
    else:
        skip = {*protected, *exclude, *([entity] if entity else [])}
        chosen = [c for c in source.columns if c not in skip]
    if not chosen:
        raise AuditInputError(_NO_FEATURES)
    return tuple(chosen)


def _level_order(values: Sequence[str]) -> list[str]:
    """Numbers in numeric order, anything else alphabetically (age bands sort right)."""
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def infer_schema(
    source: DataSource,
    protected: Sequence[str],
    *,
    max_levels: int,
    progress: Progress | None = None,
) -> tuple[ProtectedSchema, tuple[AttributeSummary, ...]]:
    """Read the protected columns once and build the schema from their distinct values."""
    counts: dict[str, Counter[str]] = {column: Counter() for column in protected}
    unknown: Counter[str] = Counter()
    batches = read_batches(
        source,
        list(protected),
        text_columns=protected,
        progress=progress,
        description="protected levels",
    )
    for batch in batches:
        for column in protected:
            values = batch.columns[column]
            present = [v for v in values.tolist() if v is not None]
            unknown[column] += len(values) - len(present)
            counter = counts[column]
            counter.update(present)
            if len(counter) > max_levels:
                raise AuditInputError(_TOO_MANY_LEVELS.format(column=column, limit=max_levels))
    attributes = []
    summaries = []
    for column in protected:
        if not counts[column]:
            raise AuditInputError(_NO_LEVELS.format(column=column, path=source.path))
        levels = _level_order(list(counts[column]))
        attributes.append(ProtectedAttribute(column, tuple(levels)))
        summaries.append(
            AttributeSummary(column, {lv: counts[column][lv] for lv in levels}, unknown[column])
        )
    schema = ProtectedSchema(tuple(attributes))
    cells = math.prod(schema.shape)
    if cells > MAX_JOINT_CELLS:
        raise AuditInputError(_JOINT_TOO_LARGE.format(cells=cells, limit=MAX_JOINT_CELLS))
    return schema, tuple(summaries)
