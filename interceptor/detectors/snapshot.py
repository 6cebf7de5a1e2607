"""A bank's tables at one moment, as bytes for the compacted ``interceptor.detector-state`` topic.

Format (version 2): an ``.npz`` archive (zip, deflate; read with ``allow_pickle=False``) holding

- ``meta``: a 0-d unicode array with JSON ``{"format": "interceptor.detectors.snapshot",
  "version": 2, "quantizer": Q, "instance": ..., "time": ..., "tables": [{"transformation",
  "feature", "kind", "joint_size", "max_keys", "rows_seen", "limit"}, ...]}``;
- per table i: ``c{i}`` the cell codes as int64 deltas (first code, then differences, which
  compress well because codes are sorted), ``w{i}`` the cells' weights and ``q{i}`` the squared
  weights per joint protected code, as float64.

The panel-row reservoir of the combination probe is never part of a snapshot: it holds rows.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from interceptor.detectors.encoding import QUANTIZER_VERSION
from interceptor.detectors.table import FeatureTable

__all__ = ["BankSnapshot", "SNAPSHOT_FORMAT", "SNAPSHOT_VERSION"]

SNAPSHOT_FORMAT: Final = "interceptor.detectors.snapshot"
SNAPSHOT_VERSION: Final = 2

_BAD_SNAPSHOT = "detector snapshot is not valid: {0}"


@dataclass(frozen=True)
class BankSnapshot:
    """The tables of one instance (``instance``) as of ``time`` (seconds since the epoch)."""

    instance: str
    time: float
    tables: Mapping[tuple[str, str], FeatureTable] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        entries: list[dict[str, Any]] = []
        arrays: dict[str, np.ndarray[Any, Any]] = {}
        for i, ((transformation, feature), table) in enumerate(sorted(self.tables.items())):
            codes, w, w2 = table.arrays()
            arrays[f"c{i}"] = np.diff(codes, prepend=np.int64(0)).astype("<i8")
            arrays[f"w{i}"] = w.astype("<f8")
            arrays[f"q{i}"] = w2.astype("<f8")
            entries.append(
                {
                    "transformation": transformation,
                    "feature": feature,
                    "kind": table.kind,
                    "joint_size": table.joint_size,
                    "max_keys": table.max_keys,
                    "rows_seen": table.rows_seen,
                    "limit": table.limit,
                }
            )
        meta = {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "quantizer": QUANTIZER_VERSION,
            "instance": self.instance,
            "time": self.time,
            "tables": entries,
        }
        buffer = io.BytesIO()
        np.savez_compressed(buffer, meta=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> BankSnapshot:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                meta = json.loads(str(archive["meta"][()]))
                if meta.get("format") != SNAPSHOT_FORMAT:
                    raise ValueError(f"format {meta.get('format')!r}")
                if meta["version"] != SNAPSHOT_VERSION or meta["quantizer"] != QUANTIZER_VERSION:
                    raise ValueError(f"version {meta['version']}/{meta['quantizer']}")
                tables: dict[tuple[str, str], FeatureTable] = {}
                for i, entry in enumerate(meta["tables"]):
                    key = (str(entry["transformation"]), str(entry["feature"]))
                    tables[key] = FeatureTable.from_arrays(
                        entry["kind"],
                        int(entry["joint_size"]),
                        max_keys=int(entry["max_keys"]),
                        rows_seen=int(entry["rows_seen"]),
                        limit=int(entry["limit"]),
                        codes=np.cumsum(archive[f"c{i}"].astype(np.int64)),
                        w=archive[f"w{i}"],
                        w2=archive[f"q{i}"],
                    )
                return cls(str(meta["instance"]), float(meta["time"]), tables)
        except (
            OSError,
            EOFError,
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            zipfile.BadZipFile,
        ) as exc:
            raise ValueError(_BAD_SNAPSHOT.format(exc)) from exc
