"""The audit panel: joint codes per entity, tombstones, bad messages, panel files."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from interceptor.detectors.protected import ProtectedSchema
from interceptor.panel import AuditPanel, PanelFileError, entity_fold

SCHEMA = ProtectedSchema.from_mapping(
    {"race": ["white", "black", "asian"], "sex": ["female", "male"]}
)


def _panel() -> AuditPanel:
    return AuditPanel(SCHEMA)


def test_member_gets_the_schema_joint_code_and_a_stable_fold() -> None:
    panel = _panel()
    assert panel.apply(b"u-1", orjson.dumps({"race": "black", "sex": "male"})) is None
    columns = panel.columns(["u-1", "u-2"])
    assert columns.on_panel.tolist() == [True, False]
    assert columns.codes[0] == SCHEMA.encode_one({"race": "black", "sex": "male"})
    assert columns.folds[0] == entity_fold("u-1") in (0, 1)
    assert len(panel) == 1


def test_tombstone_and_remove_take_the_entity_off() -> None:
    panel = _panel()
    panel.apply(b"u-1", orjson.dumps({"race": "white"}))
    panel.apply(b"u-2", orjson.dumps({"race": "white"}))
    assert panel.apply(b"u-1", None) is None
    panel.remove("u-2")
    assert len(panel) == 0
    assert not panel.columns(["u-1", "u-2"]).on_panel.any()


def test_missing_and_unlisted_values_are_unknown_and_counted() -> None:
    panel = _panel()
    panel.apply(b"u-1", orjson.dumps({"race": "martian", "sex": None}))
    assert panel.unknown_values == 1
    unknown = SCHEMA.encode_one({})
    assert panel.columns(["u-1"]).codes[0] == unknown


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        (None, b"{}", "without an entity key"),
        (b"\xff", b"{}", "not UTF-8"),
        (b"u-1", b"{not json", "not JSON"),
        (b"u-1", b"[1]", "not a JSON object"),
        (b"u-1", orjson.dumps({"race": 7}), "race is not a string"),
        (b"u-1", orjson.dumps({"sex": "x" * 500}), "longer than"),
    ],
)
def test_bad_messages_are_refused_without_echoing_values(
    key: bytes | None, value: bytes, problem: str
) -> None:
    panel = _panel()
    message = panel.apply(key, value)
    assert message is not None and problem in message
    assert "xxxx" not in message and "7" not in message
    assert len(panel) == 0


def test_panel_file_csv_and_parquet(tmp_path: Path) -> None:
    csv = tmp_path / "panel.csv"
    csv.write_text("entity_id,race,sex,extra\nu-1,asian,female,9\nu-2,,male,1\n,white,male,0\n")
    panel = _panel()
    assert panel.load_file(csv) == 2
    codes = panel.columns(["u-1", "u-2"]).codes.tolist()
    assert codes == [
        SCHEMA.encode_one({"race": "asian", "sex": "female"}),
        SCHEMA.encode_one({"sex": "male"}),
    ]
    parquet = tmp_path / "panel.parquet"
    pq.write_table(pa.table({"who": ["u-3"], "race": ["white"]}), parquet)
    assert panel.load_file(parquet, entity_column="who") == 1
    assert "u-3" in panel


def test_panel_file_errors_name_the_file_and_the_problem(tmp_path: Path) -> None:
    missing = tmp_path / "absent.csv"
    with pytest.raises(PanelFileError, match="absent.csv: cannot read"):
        _panel().load_file(missing)
    no_entity = tmp_path / "no_entity.csv"
    no_entity.write_text("race,sex\nwhite,male\n")
    with pytest.raises(PanelFileError, match="no 'entity_id' column"):
        _panel().load_file(no_entity)
    no_attributes = tmp_path / "no_attributes.csv"
    no_attributes.write_text("entity_id,colour\nu-1,red\n")
    with pytest.raises(PanelFileError, match="none of the protected columns"):
        _panel().load_file(no_attributes)
