from __future__ import annotations

from pathlib import Path

import pytest

from interceptor.offline.columns import feature_columns, infer_schema
from interceptor.offline.errors import AuditInputError
from interceptor.offline.reader import open_source


@pytest.fixture
def panel(tmp_path: Path) -> Path:
    path = tmp_path / "panel.csv"
    path.write_text(
        "user_id,race,sex,zip3,income\n"
        "u1,white,female,021,50\n"
        "u2,black,,100,60\n"
        "u3,,male,945,\n"
        "u4,white,male,945,70\n",
        encoding="utf-8",
    )
    return path


def test_default_features_are_every_other_column(panel: Path) -> None:
    source = open_source(panel)
    assert feature_columns(source, ["race", "sex"], None, [], "user_id") == ("zip3", "income")
    assert feature_columns(source, ["race"], None, ["income"], None) == ("user_id", "sex", "zip3")
    assert feature_columns(source, ["race"], ["income", "zip3"], [], None) == ("income", "zip3")


@pytest.mark.parametrize(
    ("protected", "features", "exclude", "entity", "message"),
    [
        ([], None, [], None, "--protected names no column"),
        (["religion"], None, [], None, 'no column "religion"'),
        (["race"], ["zip4"], [], None, 'no column "zip4"'),
        (["race"], None, [], "uid", 'no column "uid"'),
        (["race", "race"], None, [], None, 'column "race" is named twice'),
        (["race"], ["race"], [], None, 'column "race" is both protected and a feature'),
        (["race"], ["user_id"], [], "user_id", 'the entity column "user_id" cannot also be'),
        (["race"], None, [], "race", 'the entity column "race" cannot also be protected'),
        (["race", "sex"], None, ["zip3", "income"], "user_id", "no feature columns left"),
    ],
)
def test_bad_column_choices_are_input_errors(
    panel: Path,
    protected: list[str],
    features: list[str] | None,
    exclude: list[str],
    entity: str | None,
    message: str,
) -> None:
    with pytest.raises(AuditInputError, match=message):
        feature_columns(open_source(panel), protected, features, exclude, entity)


def test_levels_are_the_distinct_values_with_their_counts(panel: Path) -> None:
    schema, summaries = infer_schema(open_source(panel), ["race", "sex"], max_levels=64)
    assert schema.names == ("race", "sex")
    assert [a.levels for a in schema.attributes] == [("black", "white"), ("female", "male")]
    race, sex = summaries
    assert dict(race.levels) == {"black": 1, "white": 2} and race.unknown == 1
    assert dict(sex.levels) == {"female": 1, "male": 2} and sex.unknown == 1


def test_numeric_levels_sort_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("band,x\n10,1\n9,2\n100,3\n", encoding="utf-8")
    schema, _ = infer_schema(open_source(path), ["band"], max_levels=64)
    assert schema.attributes[0].levels == ("9", "10", "100")


def test_an_identifier_is_not_a_protected_attribute(panel: Path) -> None:
    with pytest.raises(AuditInputError, match='"user_id" has more than 3 distinct values'):
        infer_schema(open_source(panel), ["user_id"], max_levels=3)


def test_an_empty_protected_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("race,x\n,1\n,2\n", encoding="utf-8")
    with pytest.raises(AuditInputError, match='"race" has no values'):
        infer_schema(open_source(path), ["race"], max_levels=64)


def test_too_many_joint_cells_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    rows = [f"a{i % 60},b{i % 59},c{i % 7}" for i in range(500)]
    path.write_text("a,b,c\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(AuditInputError, match="joint cells"):
        infer_schema(open_source(path), ["a", "b", "c"], max_levels=64)
