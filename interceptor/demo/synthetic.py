"""Synthetic feature traffic with planted violations and bad records, reproducible from a seed.

The mix is chosen so that every kind of decision and every dead-letter reason shows up in a run of
a few thousand records: opted-out and GPC consumers, minors with and without opt-in, limit-SPI
requests, deleted entities, unknown entities, housing/employment/credit campaigns, stale records,
manifests that must never pass, and records that cannot be decoded at all.

It also plants proxies of protected attributes for the detectors to find, and decoys they must
leave alone (:data:`PLANTED_PROXIES`, :data:`DECOYS`). Half the population is on the audit panel.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from interceptor.consent import ConsentState

__all__ = [
    "DECOYS",
    "PLANTED_COMBINATIONS",
    "PLANTED_PROXIES",
    "DemoMessage",
    "Population",
    "Profile",
    "SyntheticTraffic",
]

#: Share of input records that are deliberately broken, by dead-letter reason.
BAD_RECORD_RATE: Final = 0.01
#: Transformations and how often each appears in the traffic.
TRANSFORMATION_MIX: Final = {
    ("geo_features", "3"): 0.20,
    ("interest_segments", "7"): 0.18,
    ("engagement_signals", "1"): 0.14,
    ("contextual_page", "2"): 0.12,
    ("audience_demographics", "5"): 0.14,
    ("fraud_signals", "4"): 0.08,
    ("health_affinity", "2"): 0.05,
    ("visit_places", "1"): 0.04,
    ("identity_signals", "1"): 0.03,
    ("legacy_scores", "1"): 0.02,  # never registered: on_unregistered decides
}
PAGE_CATEGORIES: Final = ("news", "sports", "autos", "travel", "finance", "cooking", "gaming")
SEGMENTS: Final = ("outdoor", "luxury", "parents", "gamers", "travelers", "foodies", "diy")
ZIP3: Final = ("941", "945", "900", "902", "921", "958", "606", "100", "331")

#: (transformation, feature, attribute) the detectors must flag. zip3 is a home ZIP prefix whose
#: distribution differs by race; name_ending is the last letter of a first name, which differs
#: by sex; promo_cohort_a/b are fair coins whose XOR decides sex (flipped 10 % of the time), so
#: neither reveals anything alone and only the combination detector can see them.
PLANTED_PROXIES: Final = (
    ("geo_features", "zip3", "race"),
    ("engagement_signals", "name_ending", "sex"),
)
PLANTED_COMBINATIONS: Final = (("engagement_signals", ("promo_cohort_a", "promo_cohort_b"), "sex"),)
#: Features independent of every protected attribute: one value per entity (an identifier), a
#: per-entity category, a per-record number. The detectors must not flag them.
DECOYS: Final = (
    ("engagement_signals", "account_ref"),
    ("engagement_signals", "weekday_active"),
    ("engagement_signals", "session_minutes"),
    ("interest_segments", "top_segment"),
    ("interest_segments", "sessions_7d"),
)
PANEL_SHARE: Final = 0.5
RACES: Final = ("white", "hispanic", "black", "asian", "native", "other")
RACE_WEIGHTS: Final = (0.45, 0.20, 0.13, 0.12, 0.02, 0.08)
AGE_BANDS: Final = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
NAME_ENDINGS: Final = ("a", "e", "n", "o", "y", "other")
NAME_ENDING_WEIGHTS: Final = {
    "female": (0.40, 0.25, 0.08, 0.04, 0.10, 0.13),
    "male": (0.03, 0.15, 0.30, 0.15, 0.10, 0.27),
    "nonbinary": (1 / 6,) * 6,
}
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Profile:
    """A synthetic consumer's protected attributes and the per-entity features drawn from them."""

    race: str
    sex: str
    age_band: str | None
    home_zip3: str
    name_ending: str
    cohort_a: str
    cohort_b: str
    account_ref: str
    weekday_active: str


def _profile(rng: random.Random, age: int | None) -> Profile:
    race = rng.choices(RACES, RACE_WEIGHTS)[0]
    # Each race favours two ZIP prefixes (60 %); otherwise any prefix.
    slot = RACES.index(race)
    if rng.random() < 0.6:
        home = ZIP3[rng.choice((slot, (slot + 3) % len(ZIP3)))]
    else:
        home = rng.choice(ZIP3)
    a, b = rng.getrandbits(1), rng.getrandbits(1)
    if rng.random() < 0.04:
        sex = "nonbinary"
    else:
        female = bool(a ^ b) != (rng.random() < 0.1)
        sex = "female" if female else "male"
    return Profile(
        race=race,
        sex=sex,
        age_band=_age_band(age) if age is not None else rng.choice(AGE_BANDS),
        home_zip3=home,
        name_ending=rng.choices(NAME_ENDINGS, NAME_ENDING_WEIGHTS[sex])[0],
        cohort_a="AB"[a],
        cohort_b="AB"[b],
        account_ref=f"acct-{rng.getrandbits(48):012x}",
        weekday_active=rng.choice(WEEKDAYS),
    )


def _age_band(age: int) -> str | None:
    if age < 13:
        return None  # below the panel's youngest band: unknown
    if age < 18:
        return "13-17"
    bounds = ((25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64"))
    return next((band for limit, band in bounds if age < limit), "65+")


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
        self.profiles: dict[str, Profile] = {}
        self.panel: list[str] = []
        for entity in self.entity_ids:
            roll = rng.random()
            age: int | None = None
            if roll >= 0.08:  # else no consent state at all: an unknown entity
                age = rng.choice([11, 12, 14, 15]) if rng.random() < 0.06 else rng.randint(16, 84)
            self.profiles[entity] = _profile(rng, age)
            if rng.random() < PANEL_SHARE:
                self.panel.append(entity)
            if age is None:
                continue
            self.states[entity] = ConsentState(
                opt_out_sale_share=rng.random() < 0.10,
                gpc=rng.random() < 0.06,
                limit_spi=rng.random() < 0.05,
                age=age,
                minor_opt_in=age < 16 and rng.random() < 0.3,
                deleted=rng.random() < 0.01,
                updated_at="2026-11-30T09:00:00Z",
            )

    def panel_messages(self) -> Iterator[DemoMessage]:
        """The audit panel: protected attributes of the panel entities (5 % leave race unknown)."""
        rng = random.Random(len(self.panel))
        for entity in self.panel:
            profile = self.profiles[entity]
            document = {
                "race": profile.race if rng.random() >= 0.05 else None,
                "sex": profile.sex,
                "age_band": profile.age_band,
            }
            yield DemoMessage(entity.encode(), orjson.dumps(document))

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
            "features": _features(rng, transformation, self._population.profiles[entity]),
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


def _features(rng: random.Random, transformation: str, profile: Profile) -> dict[str, Any]:
    """Feature values shaped like each example manifest's outputs."""
    lat = round(rng.uniform(32.6, 41.9), 5)
    lon = round(rng.uniform(-124.3, -114.2), 5)
    if transformation == "geo_features":
        return {"lat": lat, "lon": lon, "zip3": profile.home_zip3}
    if transformation == "engagement_signals":
        return {
            "name_ending": profile.name_ending,
            "promo_cohort_a": profile.cohort_a,
            "promo_cohort_b": profile.cohort_b,
            "account_ref": profile.account_ref,
            "weekday_active": profile.weekday_active,
            "session_minutes": round(rng.lognormvariate(2.0, 0.8), 2),
        }
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
