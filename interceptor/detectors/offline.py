"""One-shot assessment of a whole file's columns with the streaming code path.

The offline audit infers the protected schema from the data (levels in sorted order), splits the
rows into the two folds by a fixed hash of the row number, feeds one :class:`DetectorBank` and
evaluates it once, so a file and a stream with the same rows give the same findings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from interceptor.detectors.assess import Thresholds
from interceptor.detectors.bank import Assessment, DetectorBank
from interceptor.detectors.encoding import mix64
from interceptor.detectors.protected import ProtectedSchema

__all__ = ["MAX_LEVELS", "assess_columns", "infer_schema", "row_folds"]

#: A protected column with more distinct values than this is not a categorical attribute.
MAX_LEVELS: Final = 64

_NO_VALUES = 'protected column "{0}" has no values'
_TOO_MANY_LEVELS = 'protected column "{0}" has {1} distinct values (at most {2})'

Column = Sequence[object] | npt.NDArray[Any]


def infer_schema(protected: Mapping[str, Column]) -> ProtectedSchema:
    """Levels of each protected column: its distinct non-empty values as text, sorted."""
    mapping: dict[str, list[str]] = {}
    for name, column in protected.items():
        values = column.tolist() if isinstance(column, np.ndarray) else list(column)
        levels = sorted({str(v) for v in values if _present(v)})
        if not levels:
            raise ValueError(_NO_VALUES.format(name))
        if len(levels) > MAX_LEVELS:
            raise ValueError(_TOO_MANY_LEVELS.format(name, len(levels), MAX_LEVELS))
        mapping[name] = levels
    return ProtectedSchema.from_mapping(mapping)


def _present(value: object) -> bool:
    if value is None or isinstance(value, bool):
        return value is not None
    if isinstance(value, float):
        return value == value  # not NaN
    return not (isinstance(value, str) and value == "")


def row_folds(n: int, salt: int = 0) -> npt.NDArray[np.int64]:
    """Fold (0/1) of each row number: one bit of a fixed hash."""
    return (mix64(np.arange(n, dtype=np.int64) + salt) & np.uint64(1)).astype(np.int64)


def assess_columns(
    columns: Mapping[str, Column],
    protected: Mapping[str, Column],
    *,
    schema: ProtectedSchema | None = None,
    thresholds: Thresholds | None = None,
    transformation: str = "file",
    combination: bool = False,
    **bank_options: Any,
) -> Assessment:
    """Findings for every feature column against the protected columns (one row per entity).

    ``combination=True`` also fits the multi-feature probe on all rows (slow on large files).
    """
    schema = schema or infer_schema(protected)
    joint = schema.encode({name: _values(column) for name, column in protected.items()})
    n = len(joint)
    bank = DetectorBank(schema, thresholds, reservoir_rows=n if combination else 0, **bank_options)
    bank.observe_columns(transformation, columns, joint, row_folds(n), now=0.0)
    if combination:
        bank.run_combination(0.0)
    return bank.evaluate(0.0)


def _values(column: Column) -> Sequence[object]:
    return column.tolist() if isinstance(column, np.ndarray) else column
