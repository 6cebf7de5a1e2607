"""Column reading for ``interceptor audit``: CSV or Parquet, in record batches, with a progress bar.

Only the columns asked for are read, one record batch at a time, so memory stays bounded whatever
the file's size. Every column comes out as a numpy array: ``float64`` with NaN for missing values
(numeric columns) or ``object`` holding ``str`` or ``None`` (everything else, and every column read
as text, such as protected attributes).

CSV types are decided once, from the first block, the way pyarrow infers them; later values that
do not parse as numbers in a numeric column are counted as missing and reported, never fatal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from interceptor.offline.errors import AuditInputError

__all__ = [
    "LARGE_FILE_BYTES",
    "ColumnBatch",
    "ColumnKind",
    "DataSource",
    "ReadStats",
    "open_source",
    "progress_bar",
    "read_batches",
]

ColumnKind = Literal["numeric", "categorical"]
Column = npt.NDArray[Any]

#: Files at least this large get a progress bar (when stderr is a terminal).
LARGE_FILE_BYTES: Final = 8 * 1024 * 1024
#: CSV text per record batch; Parquet batches are counted in rows instead.
CSV_BLOCK_BYTES: Final = 4 * 1024 * 1024
PARQUET_BATCH_ROWS: Final = 131_072

_SUFFIXES: Final = {
    ".csv": ("csv", None),
    ".tsv": ("csv", None),
    ".txt": ("csv", None),
    ".csv.gz": ("csv", "gzip"),
    ".tsv.gz": ("csv", "gzip"),
    ".csv.bz2": ("csv", "bz2"),
    ".csv.zst": ("csv", "zstd"),
    ".parquet": ("parquet", None),
    ".pq": ("parquet", None),
}

_NO_SUCH_FILE: Final = "{path}: no such file"
_NOT_A_FILE: Final = "{path}: not a regular file"
_UNKNOWN_FORMAT: Final = (
    "{path}: unknown file type; expected .csv, .tsv, .csv.gz, .csv.bz2, .csv.zst, .parquet or .pq"
)
_UNREADABLE: Final = "{path}: cannot read as {format}: {reason}"
_DUPLICATE_COLUMN: Final = '{path}: column "{column}" appears more than once in the header'
_UNKNOWN_COLUMN: Final = '{path}: no column "{column}" (columns: {available})'
_UNSUPPORTED_TYPE: Final = '{path}: column "{column}" has type {type}, which the audit cannot read'


@dataclass(frozen=True)
class DataSource:
    """A data file opened for reading: its format, its columns and how each one will be read."""

    path: Path
    format: Literal["csv", "parquet"]
    compression: str | None
    columns: tuple[str, ...]
    kinds: Mapping[str, ColumnKind]
    size_bytes: int
    rows: int | None
    delimiter: str = ","

    def require(self, columns: Sequence[str]) -> None:
        """Raise :class:`AuditInputError` naming the first column the file does not have."""
        for column in columns:
            if column not in self.kinds:
                available = ", ".join(self.columns[:20]) + (
                    ", ..." if len(self.columns) > 20 else ""
                )
                raise AuditInputError(
                    _UNKNOWN_COLUMN.format(path=self.path, column=column, available=available)
                )


@dataclass
class ReadStats:
    """What reading noticed: rows read and, per numeric column, values that were not numbers."""

    rows: int = 0
    unparsed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnBatch:
    """Consecutive rows of the file: ``offset`` is the index of the first one."""

    offset: int
    rows: int
    columns: Mapping[str, Column]


def _detect(path: Path) -> tuple[Literal["csv", "parquet"], str | None]:
    name = path.name.lower()
    for suffix, (fmt, compression) in sorted(_SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return ("csv" if fmt == "csv" else "parquet"), compression
    raise AuditInputError(_UNKNOWN_FORMAT.format(path=path))


def _kind(data_type: Any) -> ColumnKind:
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        return "numeric"
    if pa.types.is_decimal(data_type):
        return "numeric"
    return "categorical"


def _check_type(path: Path, column: str, data_type: Any) -> None:
    nested = (
        pa.types.is_list(data_type)
        or pa.types.is_large_list(data_type)
        or pa.types.is_struct(data_type)
        or pa.types.is_map(data_type)
    )
    if nested:
        raise AuditInputError(
            _UNSUPPORTED_TYPE.format(path=path, column=column, type=str(data_type))
        )


def _csv_stream(path: Path, compression: str | None) -> tuple[Any, Any]:
    """Return (stream to parse, raw file whose position measures progress)."""
    raw = pa.OSFile(str(path), "rb")
    if compression is None:
        return raw, raw
    return pa.CompressedInputStream(raw, compression), raw


def _csv_reader(
    path: Path, compression: str | None, delimiter: str, convert: Any
) -> tuple[Any, Any]:
    stream, raw = _csv_stream(path, compression)
    reader = pa_csv.open_csv(
        stream,
        read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
        parse_options=pa_csv.ParseOptions(delimiter=delimiter),
        convert_options=convert,
    )
    return reader, raw


def _open_csv(path: Path, compression: str | None, size: int) -> DataSource:
    delimiter = "\t" if ".tsv" in path.name.lower() else ","
    convert = pa_csv.ConvertOptions(strings_can_be_null=True)
    reader, raw = _csv_reader(path, compression, delimiter, convert)
    try:
        names = tuple(reader.schema.names)
        _reject_duplicates(path, names)
        # Types as pyarrow infers them from the first block; an empty file has only a header.
        kinds = {field.name: _kind(field.type) for field in reader.schema}
        integers = [f.name for f in reader.schema if pa.types.is_integer(f.type)]
    finally:
        raw.close()
    for column in _zero_padded(path, compression, delimiter, integers):
        kinds[column] = "categorical"
    return DataSource(path, "csv", compression, names, kinds, size, None, delimiter)


def _zero_padded(
    path: Path, compression: str | None, delimiter: str, columns: Sequence[str]
) -> list[str]:
    """Integer columns written with leading zeros (ZIP codes, account numbers): codes."""
    if not columns:
        return []
    convert = pa_csv.ConvertOptions(
        include_columns=list(columns), column_types=dict.fromkeys(columns, pa.string())
    )
    reader, raw = _csv_reader(path, compression, delimiter, convert)
    try:
        first = reader.read_next_batch()
    except StopIteration:
        return []
    finally:
        raw.close()
    padded = []
    for column in columns:
        matches = pc.match_substring_regex(first.column(column), r"^\s*[+-]?0[0-9]")
        if pc.any(matches).as_py():
            padded.append(column)
    return padded


def _reject_duplicates(path: Path, names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise AuditInputError(_DUPLICATE_COLUMN.format(path=path, column=name))
        seen.add(name)


def _open_parquet(path: Path, size: int) -> DataSource:
    parquet = pq.ParquetFile(str(path))
    schema = parquet.schema_arrow
    names = tuple(schema.names)
    _reject_duplicates(path, names)
    for column_field in schema:
        _check_type(path, column_field.name, column_field.type)
    kinds = {column_field.name: _kind(column_field.type) for column_field in schema}
    rows = int(parquet.metadata.num_rows)
    return DataSource(path, "parquet", None, names, kinds, size, rows)


def open_source(path: Path) -> DataSource:
    """Open ``path`` (CSV or Parquet, by its suffix) and read its header or schema."""
    if not path.exists():
        raise AuditInputError(_NO_SUCH_FILE.format(path=path))
    if not path.is_file():
        raise AuditInputError(_NOT_A_FILE.format(path=path))
    fmt, compression = _detect(path)
    size = path.stat().st_size
    try:
        if fmt == "csv":
            return _open_csv(path, compression, size)
        return _open_parquet(path, size)
    except (pa.ArrowException, OSError, ValueError) as exc:
        if isinstance(exc, AuditInputError):
            raise
        reason = _first_line(exc)
        raise AuditInputError(_UNREADABLE.format(path=path, format=fmt, reason=reason)) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def progress_bar(console: Console, *, show: bool) -> Progress:
    """A rich progress bar on ``console``; it draws nothing unless ``show`` and a terminal."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not (show and console.is_terminal),
    )


def _to_text(array: Any) -> Column:
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if pa.types.is_floating(array.type):
            # 1.0 and 1 are the same level; "1.0" would be a surprise in a report.
            values = array.to_numpy(zero_copy_only=False)
            texts = [
                None if v is None or (isinstance(v, float) and math.isnan(v)) else _float_text(v)
                for v in values.tolist()
            ]
            return np.array(texts, dtype=object)
        array = pc.cast(array, pa.string())
    return np.array(array.to_pylist(), dtype=object)


def _float_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _to_float(array: Any, column: str, stats: ReadStats) -> Column:
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        trimmed = pc.utf8_trim_whitespace(array)
        try:
            array = pc.cast(trimmed, pa.float64())
        except pa.ArrowInvalid:
            return _parse_floats(trimmed.to_pylist(), column, stats)
    else:
        array = pc.cast(array, pa.float64())
    result: Column = array.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    return result


def _parse_floats(values: list[str | None], column: str, stats: ReadStats) -> Column:
    out = np.full(len(values), np.nan)
    bad = 0
    for i, value in enumerate(values):
        if value is None:
            continue
        try:
            out[i] = float(value)
        except ValueError:
            bad += 1
    stats.unparsed[column] = stats.unparsed.get(column, 0) + bad
    return out


def _convert(
    batch: Any, columns: Sequence[str], kinds: Mapping[str, ColumnKind], stats: ReadStats
) -> dict[str, Column]:
    out: dict[str, Column] = {}
    for column in columns:
        array = batch.column(column)
        if kinds[column] == "numeric":
            out[column] = _to_float(array, column, stats)
        else:
            out[column] = _to_text(array)
    return out


def _csv_batches(
    source: DataSource, columns: Sequence[str], advance: Callable[[float], None]
) -> Iterator[Any]:
    # Everything is read as text and converted here, so a late odd value cannot abort the scan.
    convert = pa_csv.ConvertOptions(
        include_columns=list(columns),
        column_types=dict.fromkeys(columns, pa.string()),
        strings_can_be_null=True,
    )
    reader, raw = _csv_reader(source.path, source.compression, source.delimiter, convert)
    try:
        done = 0.0
        for batch in reader:
            # One batch per block of text; a compressed file's progress is its raw position.
            position = raw.tell() if source.compression else done + CSV_BLOCK_BYTES
            step = min(float(position), float(source.size_bytes)) - done
            done += step
            advance(step)
            yield batch
    finally:
        raw.close()


def _parquet_batches(
    source: DataSource, columns: Sequence[str], advance: Callable[[float], None]
) -> Iterator[Any]:
    parquet = pq.ParquetFile(str(source.path))
    try:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=list(columns)):
            advance(batch.num_rows)
            yield batch
    finally:
        parquet.close()


def read_batches(
    source: DataSource,
    columns: Sequence[str],
    *,
    text_columns: Collection[str] = (),
    stats: ReadStats | None = None,
    progress: Progress | None = None,
    description: str = "reading",
) -> Iterator[ColumnBatch]:
    """Yield the file's rows in batches holding ``columns`` (``text_columns`` always as text).

    :param progress: advanced in bytes (CSV) or rows (Parquet) as batches are read.
    :raises AuditInputError: for an unknown column or a file that stops parsing part-way.
    """
    source.require(columns)
    kinds: dict[str, ColumnKind] = {
        c: "categorical" if c in text_columns else source.kinds[c] for c in columns
    }
    stats = stats if stats is not None else ReadStats()
    total = source.size_bytes if source.format == "csv" else source.rows
    task = progress.add_task(description, total=total) if progress is not None else None

    def advance(amount: float) -> None:
        if progress is not None and task is not None:
            progress.advance(task, amount)

    batches = (
        _csv_batches(source, columns, advance)
        if source.format == "csv"
        else _parquet_batches(source, columns, advance)
    )
    offset = 0
    try:
        for batch in batches:
            converted = _convert(batch, columns, kinds, stats)
            rows = int(batch.num_rows)
            yield ColumnBatch(offset, rows, converted)
            offset += rows
    except (pa.ArrowException, OSError) as exc:
        reason = _first_line(exc)
        raise AuditInputError(
            _UNREADABLE.format(path=source.path, format=source.format, reason=reason)
        ) from exc
    finally:
        if progress is not None and task is not None:
            progress.update(task, completed=total)
    stats.rows = offset
