"""The feature record wire model and the decoder that sorts bad input into reason codes.

A record that cannot be decoded never stops the loop and never disappears: :func:`decode_record`
returns a :class:`DecodeFailure` with a stable reason code, and the caller sends the original
bytes to the dead-letter topic.

:class:`FeatureRecord` (pydantic) is the schema. Building a model per record costs about as much
as the rest of a record's path, so the hot path checks the same constraints with plain type tests
and returns a light :class:`DecodedRecord`; only a record the quick check refuses goes through the
model, which then says precisely what is wrong. The tests hold the two to the same verdicts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final, Literal, NamedTuple

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, ValidationError

__all__ = [
    "DEFAULT_MAX_RECORD_BYTES",
    "DecodeFailure",
    "DecodedRecord",
    "FeatureRecord",
    "ReasonCode",
    "decode_record",
]

#: Below the 1,000,000-byte message limit of librdkafka's and Kafka's defaults, with room for the
#: headers an output adds: a record we accept must also fit through as an output, or its
#: partition would retry it forever.
DEFAULT_MAX_RECORD_BYTES: Final = 900_000

ReasonCode = Literal[
    "empty_value",
    "oversize",
    "not_utf8",
    "not_json",
    "not_object",
    "missing_field",
    "unknown_field",
    "bad_field_type",
    "bad_event_time",
    "non_scalar_feature",
    "duplicate_key",
    "missing_transformation",
    "unregistered_transformation",
    "evaluation_error",
]


def _rfc3339(value: str) -> str:
    """Accept only timestamps with an explicit offset: a naive time cannot be aged reliably."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"event_time {value!r} is not an RFC 3339 timestamp") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"event_time {value!r} has no UTC offset")
    return value


StrictInt = Annotated[int, Field(strict=True)]
StrictFloat = Annotated[float, Field(strict=True)]
StrictScalar = Annotated[
    StrictStr | StrictInt | StrictFloat | bool | None, Field(union_mode="left_to_right")
]


class FeatureRecord(BaseModel):
    """One feature record: the value of a message on an input topic (key = entity id)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    entity_id: Annotated[str, Field(min_length=1)]
    event_time: Annotated[str, AfterValidator(_rfc3339)]
    transformation: Annotated[str, Field(min_length=1)] | None = None
    version: str | None = None
    features: dict[str, StrictScalar]
    context: dict[str, StrictScalar] = Field(default_factory=dict)

    def event_epoch(self) -> float:
        """Event time in seconds since the epoch."""
        return datetime.fromisoformat(self.event_time).timestamp()


class DecodedRecord(NamedTuple):
    """A record that passed every :class:`FeatureRecord` constraint, with its time parsed once."""

    entity_id: str
    event_time: str
    event_epoch: float
    transformation: str | None
    version: str | None
    features: dict[str, Any]
    context: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DecodeFailure:
    """Why a record could not be used; ``detail`` is for humans, ``reason`` for machines."""

    reason: ReasonCode
    detail: str


_FIELD_REASONS: Final[dict[str, ReasonCode]] = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
}


def _classify(exc: ValidationError) -> DecodeFailure:
    err = exc.errors(include_url=False)[0]
    loc = [str(part) for part in err["loc"]]
    where = ".".join(loc) or "record"
    reason: ReasonCode = _FIELD_REASONS.get(err["type"], "bad_field_type")
    if loc and loc[0] in ("features", "context") and len(loc) >= 3:
        return DecodeFailure(
            "non_scalar_feature",
            f"{loc[0]}.{loc[1]}: values must be strings, numbers, booleans or null",
        )
    elif loc and loc[0] == "event_time" and err["type"] == "value_error":
        reason = "bad_event_time"
    return DecodeFailure(reason, f"{where}: {err['msg']}")


_FIELDS: Final = frozenset(FeatureRecord.model_fields)
_SCALAR_TYPES: Final = frozenset({str, int, float, bool, type(None)})


def _scalars(mapping: object) -> bool:
    return type(mapping) is dict and all(type(v) in _SCALAR_TYPES for v in mapping.values())


def _quick(document: dict[str, Any]) -> DecodedRecord | None:
    """The record if it certainly satisfies :class:`FeatureRecord`, else ``None`` (not a verdict:
    the model then decides and explains)."""
    if not _FIELDS.issuperset(document):
        return None
    entity = document.get("entity_id")
    event_time = document.get("event_time")
    transformation = document.get("transformation")
    version = document.get("version")
    features = document.get("features")
    context = document.get("context", {})
    if type(entity) is not str or not entity or type(event_time) is not str:
        return None
    if transformation is not None and (type(transformation) is not str or not transformation):
        return None
    if (version is not None and type(version) is not str) or not _scalars(features):
        return None
    if not _scalars(context):
        return None
    try:
        parsed = datetime.fromisoformat(event_time)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return DecodedRecord(
        entity,
        event_time,
        parsed.timestamp(),
        transformation,
        version,
        features,  # type: ignore[arg-type]  # a dict: _scalars checked the type
        context,
    )


def _decoded(model: FeatureRecord) -> DecodedRecord:
    return DecodedRecord(
        model.entity_id,
        model.event_time,
        model.event_epoch(),
        model.transformation,
        model.version,
        dict(model.features),
        dict(model.context),
    )


def decode_record(
    value: bytes | None, *, max_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> DecodedRecord | DecodeFailure:
    """Decode and validate one message value."""
    if not value:
        return DecodeFailure("empty_value", "message value is empty or null")
    if len(value) > max_bytes:
        return DecodeFailure("oversize", f"{len(value)} bytes exceeds the {max_bytes}-byte limit")
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as utf_exc:
            return DecodeFailure("not_utf8", f"not UTF-8 at byte {utf_exc.start}")
        return DecodeFailure("not_json", f"not JSON: {exc}")
    if not isinstance(document, dict):
        return DecodeFailure("not_object", f"JSON {type(document).__name__}, expected an object")
    decoded = _quick(document)
    if decoded is None:
        try:
            decoded = _decoded(FeatureRecord.model_validate(document))
        except ValidationError as exc:
            return _classify(exc)
    if _has_duplicate_keys(value, document, decoded):
        return DecodeFailure(
            "duplicate_key",
            "an object names the same key twice (readers disagree on which value counts)",
        )
    return decoded


_JSON_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _has_duplicate_keys(raw: bytes, document: dict[str, Any], record: DecodedRecord) -> bool:
    """True if the text has more key/value pairs than the parsed objects hold.

    The JSON parser keeps the last of duplicate keys; a downstream reader may keep the first, so
    ``{"entity_id": "a", "entity_id": "b"}`` could be judged as one entity and stored as another.
    Outside strings a colon only ever separates a key from its value, so the text's pairs are its
    colons minus those inside strings. A valid record's objects are the document, ``features``
    and ``context`` (the values are scalars). The fast count is exact unless a ``\\u`` escape
    could hide a colon; then the strings are cut out and the colons counted.
    """
    features, context = record.features, record.context
    pairs = len(document) + len(features) + len(context)
    if b"\\u" in raw:
        return _JSON_STRING.sub(b'""', raw).count(b":") > pairs
    colons = raw.count(b":")
    if colons <= pairs + record.event_time.count(":"):
        return False  # the usual case: no other string holds a colon
    in_strings = 0
    for mapping in (document, features, context):
        for key, value in mapping.items():
            in_strings += key.count(":")
            if type(value) is str:
                in_strings += value.count(":")
    return colons > pairs + in_strings
