"""Synthetic feature traffic with planted violations and bad records, reproducible from a seed.

The mix is chosen so that every kind of decision and every dead-letter reason shows up in a run of
a few thousand records: opted-out and GPC consumers, minors with and without opt-in, limit-SPI
requests, deleted entities, unknown entities, housing/employment/credit campaigns, stale records,
manifests that must never pass, and records that cannot be decoded at all.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from interceptor.consent import ConsentState

__all__ = ["DemoMessage", "Population", "SyntheticTraffic"]

#: Share of input records that are deliberately broken, by dead-letter reason.
BAD_RECORD_RATE: Final = 0.01
#: Transformations and how often each appears in the traffic.
TRANSFORMATION_MIX: Final = {
    ("geo_features", "3"): 0.22,
    ("interest_segments", "7"): 0.22,
    ("contextual_page", "2"): 0.16,
    ("audience_demographics", "5"): 0.16,
    ("fraud_signals", "4"): 0.10,
    ("health_affinity", "2"): 0.05,
    ("visit_places", "1"): 0.04,
    ("identity_signals", "1"): 0.03,
    ("legacy_scores", "1"): 0.02,  # never registered: on_unregistered decides
}
PAGE_CATEGORIES: Final = ("news", "sports", "autos", "travel", "finance", "cooking", "gaming")
SEGMENTS: Final = ("outdoor", "luxury", "parents", "gamers", "travelers", "foodies", "diy")
ZIP3: Final = ("941", "945", "900", "902", "921", "958", "606", "100", "331")


@dataclass(frozen=True, slots=True)
class DemoMessage:
    """A message to publish: key, value and headers."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


class Population:
    """Synthetic consumers and their consent state."""

    def __init__(self, size: int, *, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.entity_ids = [f"u-{i:06d}" for i in range(size)]
        self.states: dict[str, ConsentState] = {}
        for entity in self.entity_ids:
            roll = rng.random()
            if roll < 0.08:
                continue  # no consent state at all: an unknown entity
            age = rng.choice([11, 12, 14, 15]) if rng.random() < 0.06 else rng.randint(16, 84)
            self.states[entity] = ConsentState(
                opt_out_sale_share=rng.random() < 0.10,
                gpc=rng.random() < 0.06,
                limit_spi=rng.random() < 0.05,
                age=age,
                minor_opt_in=age < 16 and rng.random() < 0.3,
                deleted=rng.random() < 0.01,
                updated_at="2026-11-30T09:00:00Z",
            )

    def consent_messages(self) -> Iterator[DemoMessage]:
        for entity, state in self.states.items():
            value = orjson.dumps(state.model_dump(exclude_none=True))
            yield DemoMessage(entity.encode(), value)


class SyntheticTraffic:
    """Feature records over a :class:`Population`, deterministic for a given seed."""

    def __init__(self, population: Population, *, seed: int = 11, now: datetime | None = None):
        self._population = population
        self._rng = random.Random(seed)
        self._now = now or datetime.now(UTC)
        self._mix = list(TRANSFORMATION_MIX.items())

    def messages(self, count: int) -> Iterator[DemoMessage]:
        rng = self._rng
        keys = [key for key, _ in self._mix]
        weights = [weight for _, weight in self._mix]
        for _ in range(count):
            if rng.random() < BAD_RECORD_RATE:
                yield self._bad_record()
                continue
            (transformation, version) = rng.choices(keys, weights)[0]
            entity = rng.choice(self._population.entity_ids)
            yield self._record(entity, transformation, version)

    def _record(self, entity: str, transformation: str, version: str) -> DemoMessage:
        rng = self._rng
        age = timedelta(
            days=rng.choice([0, 0, 0, 0, 1, 3, 20, 45, 400]), minutes=rng.randint(1, 900)
        )
        hec = rng.random() < 0.12
        document: dict[str, Any] = {
            "entity_id": entity,
            "event_time": (self._now - age).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "transformation": transformation,
            "version": version,
            "features": _features(rng, transformation),
            "context": {
                "session_only": transformation == "contextual_page",
                "campaign_category": rng.choice(["housing", "employment", "credit"])
                if hec
                else "none",
            },
        }
        headers = (
            (
                "traceparent",
                f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01".encode(),
            ),
        )
        return DemoMessage(entity.encode(), orjson.dumps(document), headers)

    def _bad_record(self) -> DemoMessage:
        rng = self._rng
        entity = rng.choice(self._population.entity_ids).encode()
        good = {
            "entity_id": entity.decode(),
            "event_time": "2026-12-01T10:00:00Z",
            "transformation": "interest_segments",
            "version": "7",
            "features": {"top_segment": "diy"},
        }
        kind = rng.randrange(8)
        if kind == 0:
            value: bytes | None = b"\xff\xfe\x00binary-garbage"
        elif kind == 1:
            value = b'{"entity_id": "u-1", "features": {'
        elif kind == 2:
            value = b'["not", "an", "object"]'
        elif kind == 3:
            value = orjson.dumps({k: v for k, v in good.items() if k != "entity_id"})
        elif kind == 4:
            value = orjson.dumps({**good, "features": {"top_segment": {"nested": True}}})
        elif kind == 5:
            value = orjson.dumps({**good, "event_time": "yesterday"})
        elif kind == 6:
            value = orjson.dumps(
                {k: v for k, v in good.items() if k not in ("transformation", "version")}
            )
        else:
            value = None
        return DemoMessage(entity, value, (("producer", b"synthetic-bad"),))


def _features(rng: random.Random, transformation: str) -> dict[str, Any]:
    """Feature values shaped like each example manifest's outputs."""
    lat = round(rng.uniform(32.6, 41.9), 5)
    lon = round(rng.uniform(-124.3, -114.2), 5)
    if transformation == "geo_features":
        return {"lat": lat, "lon": lon, "zip3": rng.choice(ZIP3)}
    if transformation == "interest_segments":
        features: dict[str, Any] = {
            "top_segment": rng.choice(SEGMENTS),
            "ctr_7d": round(rng.betavariate(2, 40), 4),
            "sessions_7d": rng.randint(0, 40),
        }
        if rng.random() < 0.03:
            features["household_income"] = rng.randint(20, 400) * 1000  # undeclared feature
        return features
    if transformation == "contextual_page":
        return {
            "page_category": rng.choice(PAGE_CATEGORIES),
            "page_language": rng.choice(["en", "es"]),
        }
    if transformation == "audience_demographics":
        return {
            "age_band": rng.choice(["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]),
            "gender": rng.choice(["f", "m", "x"]),
            "zip5": f"{rng.choice(ZIP3)}{rng.randint(0, 99):02d}",
        }
    if transformation == "fraud_signals":
        return {
            "logins_1h": rng.randint(0, 12),
            "ip_asn": f"AS{rng.randint(100, 70000)}",
            "login_lat": lat,
        }
    if transformation == "health_affinity":
        return {
            "condition_score": round(rng.random(), 3),
            "condition_topic": rng.choice(["diabetes", "asthma"]),
        }
    if transformation == "visit_places":
        return {"last_poi_category": rng.choice(["clinic", "church", "union_hall", "cafe"])}
    if transformation == "identity_signals":
        return {
            "ssn_last4": f"{rng.randint(0, 9999):04d}",
            "credential_hash": f"{rng.getrandbits(64):016x}",
            "device_id": f"d-{rng.getrandbits(32):08x}",
        }
    return {"score": round(rng.random(), 3)}
