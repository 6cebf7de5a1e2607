"""The audit panel: entities whose protected attributes are known, as joint codes in memory.

The panel arrives on a compacted topic (key = entity id, value = ``{"race": ..., "sex": ...,
"age_band": ...}``) or from a CSV/Parquet file. Only the mixed-radix joint code of each entity is
kept, never the strings, and nothing here logs or returns a protected value: error messages name
the attribute, not what it held. An entity's cross-fitting fold is a fixed bit of a hash of its id,
so the same entity lands in the same fold on every instance and in every restart.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import orjson

from interceptor.detectors.protected import ProtectedSchema
from interceptor.errors import InterceptorError

__all__ = ["AuditPanel", "PanelColumns", "PanelFileError", "entity_fold", "entity_group"]

_MAX_ATTRIBUTE_CHARS = 200


class PanelFileError(InterceptorError, ValueError):
    """A panel file that cannot be read or lacks the columns the detectors need."""


class PanelColumns(NamedTuple):
    """A batch's panel membership: ``on_panel[i]`` says whether ``codes[i]`` means anything.

    ``groups`` is a stable 32-bit hash of the entity, so the classifier's folds keep each
    entity's rows together; ``folds`` is its lowest bit, the tables' cross-fitting fold.
    """

    on_panel: npt.NDArray[np.bool_]
    codes: npt.NDArray[np.int64]
    folds: npt.NDArray[np.int8]
    groups: npt.NDArray[np.int64]


def entity_group(entity_id: str) -> int:
    """A stable hash of an entity id (the same in every process and after restarts)."""
    return zlib.crc32(entity_id.encode("utf-8"))


def entity_fold(entity_id: str) -> int:
    """The cross-fitting fold (0 or 1) of an entity."""
    return entity_group(entity_id) & 1


class AuditPanel:
    """Entity id → (joint protected code, fold) for every entity on the panel."""

    def __init__(self, schema: ProtectedSchema) -> None:
        self.schema = schema
        self._members: dict[str, tuple[int, int]] = {}  # entity → (joint code, group)
        self.unknown_values = 0  # attribute values outside the schema's levels, seen so far

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._members

    def apply(self, key: bytes | None, value: bytes | None) -> str | None:
        """Apply one panel-topic message; return why it was ignored, or None.

        A tombstone (null value) takes the entity off the panel.
        """
        if not key:
            return "panel message without an entity key"
        try:
            entity = key.decode("utf-8")
        except UnicodeDecodeError:
            return "panel key is not UTF-8"
        if value is None:
            self._members.pop(entity, None)
            return None
        try:
            document = orjson.loads(value)
        except orjson.JSONDecodeError:
            return "panel value is not JSON"
        if not isinstance(document, dict):
            return "panel value is not a JSON object"
        problem = self._check(document)
        if problem is not None:
            return problem
        self.add(entity, document)
        return None

    def _check(self, document: Mapping[str, object]) -> str | None:
        for name in self.schema.names:
            held = document.get(name)
            if held is not None and not isinstance(held, str):
                return f"panel attribute {name} is not a string or null"
            if isinstance(held, str) and len(held) > _MAX_ATTRIBUTE_CHARS:
                return f"panel attribute {name} is longer than {_MAX_ATTRIBUTE_CHARS} characters"
        return None

    def add(self, entity_id: str, attributes: Mapping[str, object]) -> None:
        """Put (or replace) one entity; a value outside the levels counts as unknown."""
        for attribute in self.schema.attributes:
            held = attributes.get(attribute.name)
            if held is not None and held not in attribute.levels:
                self.unknown_values += 1
        code = self.schema.encode_one(attributes)
        self._members[entity_id] = (code, entity_group(entity_id))

    def remove(self, entity_id: str) -> None:
        self._members.pop(entity_id, None)

    def columns(self, entity_ids: Sequence[str]) -> PanelColumns:
        """Panel membership, joint codes and folds for a batch of entity ids."""
        n = len(entity_ids)
        on_panel = np.zeros(n, dtype=np.bool_)
        codes = np.zeros(n, dtype=np.int64)
        groups = np.zeros(n, dtype=np.int64)
        members = self._members
        for i, entity in enumerate(entity_ids):
            found = members.get(entity)
            if found is not None:
                on_panel[i] = True
                codes[i], groups[i] = found
        return PanelColumns(on_panel, codes, (groups & 1).astype(np.int8), groups)

    def load_file(self, path: Path, entity_column: str = "entity_id") -> int:
        """Add every row of a CSV or Parquet panel file; return how many entities it held."""
        added = 0
        for entity, attributes in _file_rows(path, entity_column, self.schema.names):
            self.add(entity, attributes)
            added += 1
        return added


def _file_rows(
    path: Path, entity_column: str, attributes: Sequence[str]
) -> Iterator[tuple[str, dict[str, object]]]:
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    wanted = [entity_column, *attributes]
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            table = pq.read_table(path)
        else:
            options = pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in wanted}, strings_can_be_null=True
            )
            table = pa_csv.read_csv(path, convert_options=options)
    except (OSError, pa.ArrowException) as exc:
        raise PanelFileError(f"{path}: cannot read the audit panel: {exc}") from exc
    missing = [name for name in (entity_column,) if name not in table.column_names]
    if missing:
        raise PanelFileError(f"{path}: the audit panel has no {missing[0]!r} column")
    present = [name for name in attributes if name in table.column_names]
    if not present:
        raise PanelFileError(
            f"{path}: the audit panel has none of the protected columns {', '.join(attributes)}"
        )
    entities = table.column(entity_column).to_pylist()
    values = {name: table.column(name).to_pylist() for name in present}
    for row, entity in enumerate(entities):
        if entity is None or entity == "":
            continue
        yield str(entity), {name: _text(values[name][row]) for name in present}


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
