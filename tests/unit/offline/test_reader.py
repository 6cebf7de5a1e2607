from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from interceptor.offline import reader
from interceptor.offline.errors import AuditInputError
from interceptor.offline.reader import ReadStats, open_source, progress_bar, read_batches


def _write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _read_all(path: Path, columns: list[str], **kwargs: object) -> dict[str, list[object]]:
    source = open_source(path)
    out: dict[str, list[object]] = {c: [] for c in columns}
    for batch in read_batches(source, columns, **kwargs):  # type: ignore[arg-type]
        for column in columns:
            out[column].extend(batch.columns[column].tolist())
    return out


def test_csv_columns_come_out_typed_with_missing_values(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "panel.csv",
        "race,zip3,income,segment\nwhite,021,51.5,a\n,100,NA,\nblack,945,,b\n",
    )
    source = open_source(path)
    assert source.format == "csv"
    assert source.columns == ("race", "zip3", "income", "segment")
    # A zero-padded integer column is a code (a ZIP prefix), not a quantity.
    assert source.kinds == {
        "race": "categorical",
        "zip3": "categorical",
        "income": "numeric",
        "segment": "categorical",
    }
    data = _read_all(path, ["race", "zip3", "income", "segment"])
    assert data["race"] == ["white", None, "black"]
    assert data["zip3"] == ["021", "100", "945"]
    assert data["income"][0] == 51.5
    assert np.isnan(data["income"][1]) and np.isnan(data["income"][2])
    assert data["segment"] == ["a", None, "b"]


def test_numeric_columns_can_be_read_as_text(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "p.csv", "sex,code\n1,7\n2,8\n")
    data = _read_all(path, ["sex", "code"], text_columns=["sex"])
    assert data["sex"] == ["1", "2"]
    assert data["code"] == [7.0, 8.0]


def test_csv_is_read_in_batches_and_late_odd_values_are_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "CSV_BLOCK_BYTES", 4096)
    lines = ["x,s"] + [f"{i % 10},g{i % 3}" for i in range(5000)] + ["oops,g1"]
    path = _write_csv(tmp_path / "big.csv", "\n".join(lines) + "\n")
    source = open_source(path)
    assert source.kinds["x"] == "numeric"
    stats = ReadStats()
    batches = list(read_batches(source, ["x", "s"], stats=stats))
    assert len(batches) > 5
    assert [b.offset for b in batches] == list(np.cumsum([0] + [b.rows for b in batches[:-1]]))
    assert sum(b.rows for b in batches) == stats.rows == 5001
    assert stats.unparsed == {"x": 1}
    assert np.isnan(batches[-1].columns["x"][-1])


def test_gzip_csv_and_tsv(tmp_path: Path) -> None:
    gz = tmp_path / "p.csv.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as f:
        f.write("a,b\n1,x\n2,y\n")
    assert _read_all(gz, ["a", "b"]) == {"a": [1.0, 2.0], "b": ["x", "y"]}
    tsv = _write_csv(tmp_path / "p.tsv", "a\tb\n1\tx\n")
    assert _read_all(tsv, ["b"]) == {"b": ["x"]}


def test_parquet_batches_and_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "PARQUET_BATCH_ROWS", 100)
    n = 1050
    table = pa.table(
        {
            "race": pa.array(["white", None, "asian"] * (n // 3) + ["white"] * (n % 3)),
            "age": pa.array([float(i % 90) for i in range(n)]),
            "sex": pa.array([1, 2, 1] * (n // 3) + [1] * (n % 3), type=pa.int8()),
            "flag": pa.array([True, False, None] * (n // 3) + [True] * (n % 3)),
            "seg": pa.array(["a", "b", "c"] * (n // 3) + ["a"] * (n % 3)).dictionary_encode(),
        }
    )
    path = tmp_path / "p.parquet"
    pq.write_table(table, str(path), row_group_size=300)
    source = open_source(path)
    assert source.format == "parquet" and source.rows == n
    assert source.kinds == {
        "race": "categorical",
        "age": "numeric",
        "sex": "numeric",
        "flag": "categorical",
        "seg": "categorical",
    }
    batches = list(
        read_batches(source, ["race", "age", "sex", "flag", "seg"], text_columns=["sex"])
    )
    assert len(batches) >= 11
    assert sum(b.rows for b in batches) == n
    first = batches[0].columns
    assert first["race"][:3].tolist() == ["white", None, "asian"]
    assert first["sex"][:3].tolist() == ["1", "2", "1"]
    assert first["flag"][:3].tolist() == ["true", "false", None]
    assert first["seg"][:3].tolist() == ["a", "b", "c"]
    assert first["age"].dtype == np.float64


def test_float_levels_read_as_text_drop_the_trailing_zero(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"band": [1.0, 2.0, None, 2.5]}), str(path))
    assert _read_all(path, ["band"], text_columns=["band"]) == {"band": ["1", "2", None, "2.5"]}


def test_progress_is_silent_off_a_terminal(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "p.csv", "a\n1\n2\n")
    sink = io.StringIO()
    console = Console(file=sink, force_terminal=False)
    with progress_bar(console, show=True) as progress:
        assert progress.disable
        list(read_batches(open_source(path), ["a"], progress=progress))
    assert sink.getvalue() == ""


def test_progress_counts_the_whole_file_on_a_terminal(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "p.csv", "a\n" + "1\n" * 1000)
    console = Console(file=io.StringIO(), force_terminal=True)
    with progress_bar(console, show=True) as progress:
        assert not progress.disable
        list(read_batches(open_source(path), ["a"], progress=progress))
        (task,) = progress.tasks
        assert task.total == path.stat().st_size
        assert task.completed == task.total


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "missing.csv: no such file"),
        ("data.xlsx", b"x", "unknown file type"),
        ("empty.csv", b"", "cannot read as csv"),
        ("broken.parquet", b"not parquet at all", "cannot read as parquet"),
        ("dupes.csv", b"a,a\n1,2\n", 'column "a" appears more than once'),
    ],
)
def test_unusable_files_are_input_errors(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AuditInputError, match=message):
        open_source(path)


def test_a_directory_is_not_a_data_file(tmp_path: Path) -> None:
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(AuditInputError, match="not a regular file"):
        open_source(tmp_path / "d.csv")


def test_unknown_column_names_the_column_and_the_file(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "p.csv", "a,b\n1,2\n")
    source = open_source(path)
    with pytest.raises(AuditInputError, match=r'no column "race" \(columns: a, b\)'):
        list(read_batches(source, ["race"]))


def test_ragged_csv_fails_part_way_as_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "CSV_BLOCK_BYTES", 1024)
    lines = ["a,b"] + [f"{i},x" for i in range(2000)] + ["1,2,3"]
    path = _write_csv(tmp_path / "p.csv", "\n".join(lines) + "\n")
    with pytest.raises(AuditInputError, match="cannot read as csv"):
        list(read_batches(open_source(path), ["a", "b"]))
