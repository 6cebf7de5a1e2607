"""Input for the end-to-end tests: valid feature records and one of every kind of bad record."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import orjson

Headers = list[tuple[str, bytes]]
Message = tuple[bytes | None, bytes | None, Headers]

#: Small enough that the oversize record below stays cheap to produce.
MAX_RECORD_BYTES = 4096

_NOW = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")

_FEATURES: dict[str, dict[str, object]] = {
    "geo_features": {"lat": 37.77493, "lon": -122.41942, "zip3": "941"},
    "contextual_page": {"page_category": "sports", "page_language": "en"},
    "interest_segments": {"top_segment": "travel", "ctr_7d": 0.12, "sessions_7d": 9},
    "health_affinity": {"condition_score": 0.7, "condition_topic": "diabetes"},
}
_VERSIONS = {
    "geo_features": "3",
    "contextual_page": "2",
    "interest_segments": "7",
    "health_affinity": "2",
}


def feature_record(entity: str, transformation: str | None, **overrides: object) -> bytes:
    """A valid record for one of the example manifests (``transformation=None``: no field)."""
    name = transformation or "contextual_page"
    record: dict[str, object] = {
        "entity_id": entity,
        "event_time": _NOW,
        "features": dict(_FEATURES[name]),
        "context": {"session_only": False, "campaign_category": "none"},
    }
    if transformation is not None:
        record["transformation"] = transformation
        record["version"] = _VERSIONS[transformation]
    record.update(overrides)
    return orjson.dumps(record)


def valid_messages(n: int, seed: int = 3) -> list[Message]:
    rng = random.Random(seed)
    names = sorted(_FEATURES)
    out: list[Message] = []
    for i in range(n):
        entity = f"u-{rng.randrange(1000)}"
        headers = [("trace-id", f"t{i}".encode()), ("bin", bytes([0, 255, i % 256]))]
        out.append((entity.encode(), feature_record(entity, names[i % len(names)]), headers))
    return out


def _ok(**overrides: object) -> bytes:
    return feature_record("u-bad", "contextual_page", **overrides)


#: (key, value, headers, expected dead-letter reason); the headers must survive byte for byte.
BAD_RECORDS: list[tuple[bytes | None, bytes | None, Headers, str]] = [
    (b"u-bad", b"", [("h", b"\x00")], "empty_value"),
    (b"u-bad", None, [], "empty_value"),
    (None, b"x" * (MAX_RECORD_BYTES + 1), [], "oversize"),
    (b"u-bad", b"\xff\xfe{", [("h", b"\xff")], "not_utf8"),
    (b"u-bad", b"{not json", [], "not_json"),
    (b"u-bad", b"[1, 2]", [], "not_object"),
    (b"u-bad", orjson.dumps({"event_time": _NOW, "features": {}}), [], "missing_field"),
    (b"u-bad", _ok(bogus=1), [], "unknown_field"),
    (b"u-bad", _ok(features="x"), [], "bad_field_type"),
    (b"u-bad", _ok(event_time="yesterday"), [], "bad_event_time"),
    (b"u-bad", _ok(features={"a": {"b": 1}}), [], "non_scalar_feature"),
    (
        b"u-bad",
        feature_record("u-bad", None),
        [("dup", b"1"), ("dup", b"2")],
        "missing_transformation",
    ),
]

UNREGISTERED: Message = (
    b"u-unreg",
    orjson.dumps(
        {
            "entity_id": "u-unreg",
            "event_time": _NOW,
            "transformation": "not_registered_anywhere",
            "features": {"x": 1},
        }
    ),
    [],
)
