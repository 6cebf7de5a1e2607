"""Every way a record can be bad has its own reason code, and decoding never raises."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from interceptor.records import DecodedRecord, DecodeFailure, FeatureRecord, decode_record

GOOD = {
    "entity_id": "u-123",
    "event_time": "2026-12-01T10:00:00Z",
    "transformation": "geo_features",
    "version": "3",
    "features": {"zip3": "941", "lat": 37.77493, "ok": True, "n": 3, "none": None},
    "context": {"session_only": False, "campaign_category": "none"},
}


def test_a_good_record_decodes_with_every_field() -> None:
    record = decode_record(orjson.dumps(GOOD))
    assert isinstance(record, DecodedRecord)
    assert record.features == GOOD["features"]
    assert record.context["campaign_category"] == "none"
    assert record.event_epoch == pytest.approx(1796119200.0)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "empty_value"),
        (b"", "empty_value"),
        (b"\xff\xfe{}", "not_utf8"),
        (b'{"entity_id": ', "not_json"),
        (b'{"a": NaN}', "not_json"),
        (b"[1, 2]", "not_object"),
        (b'"text"', "not_object"),
        (orjson.dumps({k: v for k, v in GOOD.items() if k != "entity_id"}), "missing_field"),
        (orjson.dumps({k: v for k, v in GOOD.items() if k != "features"}), "missing_field"),
        (orjson.dumps({**GOOD, "surprise": 1}), "unknown_field"),
        (orjson.dumps({**GOOD, "entity_id": 42}), "bad_field_type"),
        (orjson.dumps({**GOOD, "version": 3}), "bad_field_type"),
        (orjson.dumps({**GOOD, "features": [1]}), "bad_field_type"),
        (orjson.dumps({**GOOD, "event_time": "2026-12-01T10:00:00"}), "bad_event_time"),
        (orjson.dumps({**GOOD, "event_time": "last tuesday"}), "bad_event_time"),
        (orjson.dumps({**GOOD, "event_time": 1796119200}), "bad_field_type"),
        (orjson.dumps({**GOOD, "features": {"a": [1, 2]}}), "non_scalar_feature"),
        (orjson.dumps({**GOOD, "features": {"a": {"b": 1}}}), "non_scalar_feature"),
        (orjson.dumps({**GOOD, "context": {"a": {"b": 1}}}), "non_scalar_feature"),
    ],
)
def test_bad_records_get_their_reason(value: bytes | None, reason: str) -> None:
    failure = decode_record(value)
    assert isinstance(failure, DecodeFailure)
    assert failure.reason == reason
    assert failure.detail


@pytest.mark.parametrize(
    "value",
    [
        b'{"entity_id": "a", "entity_id": "b", "event_time": "2026-12-01T10:00:00Z",'
        b' "features": {}}',
        b'{"entity_id": "a", "event_time": "2026-12-01T10:00:00Z", "features": {"x": 1, "x": 2}}',
        b'{"entity_id": "a", "event_time": "2026-12-01T10:00:00Z", "features": {},'
        b' "context": {"c": "k:v", "c": "k:w"}}',
        # an escaped colon must not hide the extra pair
        b'{"entity_id": "a\\u003a", "event_time": "2026-12-01T10:00:00Z",'
        b' "features": {"x": 1, "x": 2}}',
    ],
)
def test_duplicate_keys_are_refused(value: bytes) -> None:
    failure = decode_record(value)
    assert isinstance(failure, DecodeFailure) and failure.reason == "duplicate_key"


def test_colons_inside_strings_are_not_duplicates() -> None:
    document = {**GOOD, "features": {"a:b": "c:d", "url": "https://x"}, "context": {"t": "1:2"}}
    assert isinstance(decode_record(orjson.dumps(document)), DecodedRecord)
    escaped = orjson.dumps(document).replace(b"c:d", b"c\\u003ad")
    assert isinstance(decode_record(escaped), DecodedRecord)


def test_oversize_records_are_refused_before_parsing() -> None:
    value = orjson.dumps({**GOOD, "features": {"blob": "x" * 2000}})
    failure = decode_record(value, max_bytes=1000)
    assert isinstance(failure, DecodeFailure)
    assert failure.reason == "oversize"
    assert isinstance(decode_record(value, max_bytes=len(value)), DecodedRecord)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(value: bytes) -> None:
    assert isinstance(decode_record(value), DecodedRecord | DecodeFailure)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**63 - 1)
        | st.floats(allow_nan=False)
        | st.text(),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=5), children, max_size=3)
        ),
        max_leaves=10,
    )
)
def test_random_json_never_raises(document: object) -> None:
    value = orjson.dumps(document)
    assert isinstance(decode_record(value), DecodedRecord | DecodeFailure)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4)
)
ODD = SCALARS | st.lists(SCALARS, max_size=2) | st.dictionaries(st.text(max_size=2), SCALARS)
FLAT = st.dictionaries(st.text(max_size=3), SCALARS, max_size=3)
VALID = st.fixed_dictionaries(
    {
        "entity_id": st.text(min_size=1, max_size=4),
        "event_time": st.sampled_from(["2026-12-01T10:00:00Z", "2026-12-01T10:00:00.5+02:00"]),
        "features": FLAT,
    },
    optional={
        "transformation": st.text(min_size=1, max_size=3) | st.none(),
        "version": st.text(max_size=2) | st.none(),
        "context": FLAT,
    },
)
FIELDS = st.sampled_from(
    ["entity_id", "event_time", "transformation", "version", "features", "context", "extra"]
)
MUTATION = st.tuples(
    FIELDS,
    st.one_of(
        st.just("<delete>"),
        ODD,
        st.sampled_from(["", "2026-12-01T10:00:00", "2026-12-01", "soon"]),
    ),
)


@st.composite
def near_records(draw: st.DrawFn) -> dict[str, object]:
    """Valid records, about half of them with one or two fields broken."""
    document: dict[str, object] = draw(VALID)
    for field, value in draw(st.lists(MUTATION, max_size=2)):
        if value == "<delete>":
            document.pop(field, None)
        else:
            document[field] = value
    return document


@settings(max_examples=600, deadline=None)
@given(near_records())
def test_the_quick_path_agrees_with_the_schema(document: dict[str, object]) -> None:
    """Whatever the hot path accepts, the pydantic schema accepts with the same values, and
    whatever the schema refuses, the decoder refuses too."""
    decoded = decode_record(orjson.dumps(document))
    try:
        model = FeatureRecord.model_validate(document)
    except ValidationError:
        assert isinstance(decoded, DecodeFailure)
        return
    assert isinstance(decoded, DecodedRecord)
    assert (decoded.entity_id, decoded.event_time, decoded.features, decoded.context) == (
        model.entity_id,
        model.event_time,
        model.features,
        model.context,
    )
    assert (decoded.transformation, decoded.version) == (model.transformation, model.version)
    assert decoded.event_epoch == model.event_epoch()
