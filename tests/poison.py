"""Poison input: values no feature record may be, each with a seeded maker for broker tests.

Every maker returns bytes that must be dead-lettered: not UTF-8, not JSON (NaN, Infinity, deep
nesting beyond the parser's limit), not an object, wrong field types, nested features, duplicate
keys, empty, or larger than the record limit. ``POISON_MAX_BYTES`` is the ``max_record_bytes`` the
tests run with, so "huge" stays cheap.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import orjson

POISON_MAX_BYTES = 8192
_TIME = "2026-12-01T10:00:00Z"


def _good(rng: random.Random) -> dict[str, object]:
    return {
        "entity_id": f"u-{rng.randrange(1000)}",
        "event_time": _TIME,
        "transformation": "interest_segments",
        "version": "7",
        "features": {"top_segment": "travel", "ctr_7d": 0.1, "sessions_7d": 3},
    }


def _random_bytes(rng: random.Random) -> bytes:
    return b"\xff" + rng.randbytes(rng.randrange(0, 200))  # 0xff never starts valid UTF-8 JSON


def _invalid_utf8(rng: random.Random) -> bytes:
    text = orjson.dumps(_good(rng))
    cut = rng.randrange(1, len(text) - 1)
    return (
        text[:cut] + rng.choice([b"\xc3\x28", b"\xa0\xa1", b"\xed\xa0\x80", b"\xff"]) + text[cut:]
    )


def _deep_nesting(rng: random.Random) -> bytes:
    depth = rng.choice([2000, 4000])  # past orjson's 1024 limit, still under the size limit
    return (
        b'{"entity_id":"u-1","event_time":"'
        + _TIME.encode()
        + b'","features":'
        + (b"[" * depth + b"]" * depth)
        + b"}"
    )


def _shallow_nesting(rng: random.Random) -> bytes:
    document = _good(rng)
    inner: object = 1
    for _ in range(rng.randrange(1, 50)):
        inner = {"x": inner} if rng.random() < 0.5 else [inner]
    document["features"] = {"nested": inner}
    return orjson.dumps(document)


def _huge(rng: random.Random) -> bytes:
    document = _good(rng)
    document["features"] = {"blob": "x" * (POISON_MAX_BYTES + rng.randrange(1, 5000))}
    return orjson.dumps(document)


def _wrong_type(rng: random.Random) -> bytes:
    document = _good(rng)
    field = rng.choice(["entity_id", "event_time", "transformation", "version", "features"])
    document[field] = rng.choice([42, 1.5, True, ["a"], {"a": 1} if field != "features" else 7])
    return orjson.dumps(document)


def _not_finite(rng: random.Random) -> bytes:
    token = rng.choice([b"NaN", b"Infinity", b"-Infinity", b"1e999999"])
    text = orjson.dumps(_good(rng))
    return text.replace(b'"ctr_7d":0.1', b'"ctr_7d":' + token)


def _duplicate_key(rng: random.Random) -> bytes:
    text = orjson.dumps(_good(rng))
    return rng.choice(
        [
            text.replace(b'{"entity_id"', b'{"entity_id":"u-other","entity_id"', 1),
            text.replace(b'"ctr_7d":0.1', b'"ctr_7d":0.1,"ctr_7d":0.9', 1),
        ]
    )


def _empty(rng: random.Random) -> bytes:
    return rng.choice([b"", b"{}", b"null", b"[]", b'""', b"0", b" "])


MAKERS: dict[str, Callable[[random.Random], bytes]] = {
    "random_bytes": _random_bytes,
    "invalid_utf8": _invalid_utf8,
    "deep_nesting": _deep_nesting,
    "shallow_nesting": _shallow_nesting,
    "huge": _huge,
    "wrong_type": _wrong_type,
    "not_finite": _not_finite,
    "duplicate_key": _duplicate_key,
    "empty": _empty,
}


def poison(n: int, seed: int = 13) -> list[tuple[bytes | None, bytes | None]]:
    """``n`` (key, value) poison messages, every kind in turn; some keys and values null."""
    rng = random.Random(seed)
    kinds = sorted(MAKERS)
    out: list[tuple[bytes | None, bytes | None]] = []
    for i in range(n):
        value: bytes | None = MAKERS[kinds[i % len(kinds)]](rng)
        if value == b"" and rng.random() < 0.5:
            value = None
        key = None if rng.random() < 0.3 else rng.choice([b"", b"u-1", rng.randbytes(8)])
        out.append((key, value))
    return out
