"""Building blocks for policy tests: a vocabulary, manifests, rule files, and test batches."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from interceptor.consent import ConsentColumns, ConsentState
from interceptor.manifests import Manifest
from interceptor.policy import BatchInput, ProxyReading
from interceptor.scalars import Scalar

VOCABULARY = """\
categories:
  - user
  - user.location
  - user.location.precise
  - user.location.imprecise
  - user.contact
  - user.contact.address
  - user.contact.address.postal_code
  - user.behavior
  - user.behavior.browsing_history
  - user.government_id
uses:
  - marketing
  - marketing.advertising
  - marketing.advertising.third_party
  - marketing.advertising.third_party.targeted
  - marketing.advertising.first_party
  - marketing.advertising.first_party.contextual
  - essential
  - essential.fraud_detection
sets:
  ads_cross_context: [marketing.advertising.third_party]
  spi: [user.location.precise, user.government_id]
  hec: [housing, employment, credit]
notice_inventory:
  user.location: [marketing.advertising]
  user.contact: [marketing]
  user.behavior: [marketing.advertising.first_party]
"""

GEO = """\
id: geo_features
version: "3"
owner: ads-geo@example.com
purpose: marketing.advertising.third_party.targeted
inputs:
  - {field: event.geo.lat, category: user.location.precise}
  - {field: event.geo.lon, category: user.location.precise}
  - {field: event.zip, category: user.contact.address.postal_code}
  - {field: event.hash, category: user.location.precise}
outputs:
  - {name: lat, type: geo, derived_from: [event.geo.lat]}
  - {name: lon, type: geo, derived_from: [event.geo.lon]}
  - {name: geohash, type: geo, derived_from: [event.hash]}
  - {name: zip3, type: categorical, derived_from: [event.zip]}
  - {name: age, type: numeric, category: user.behavior}
"""

CONTEXTUAL = """\
id: contextual_page
version: "2"
owner: ads-contextual@example.com
purpose: marketing.advertising.first_party.contextual
inputs:
  - {field: event.page.category, category: user.behavior.browsing_history}
outputs:
  - {name: page_category, type: categorical, derived_from: [event.page.category]}
"""

FRAUD = """\
id: fraud_signals
version: "4"
owner: trust-safety@example.com
purpose: essential.fraud_detection
inputs:
  - {field: event.geo.lat, category: user.location.precise}
outputs:
  - {name: login_lat, type: geo, derived_from: [event.geo.lat]}
"""

RULE_FILE = "rules.yaml"

OPT_OUT_RULE = """\
- id: OPT-OUT
  title: opted out
  cite: c
  severity: critical
  when:
    all:
      - transformation.purpose: {in: $ads_cross_context}
      - consent.opt_out_sale_share: {eq: true}
  action: block
"""


def rules_yaml(body: str, name: str = "test-rules") -> str:
    """A policy file from the indented YAML of its rules list."""
    return f"name: {name}\nrules:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ")


NOW = 1_796_126_400.0  # 2026-12-01T12:00:00Z


@dataclass
class Row:
    """One record of a test batch."""

    manifest: Manifest
    features: dict[str, Scalar] = field(default_factory=dict)
    context: dict[str, Scalar] = field(default_factory=dict)
    consent: ConsentState | None = None
    entity_id: str = "u-1"
    event_time: float = NOW - 3600.0


def make_batch(
    rows: Sequence[Row],
    *,
    now: float = NOW,
    proxy: Mapping[tuple[str, str], ProxyReading] | None = None,
) -> BatchInput:
    """A batch of ``rows``; each distinct manifest appears once in ``manifests``."""
    manifests: list[Manifest] = []
    index: list[int] = []
    for row in rows:
        position = next((i for i, m in enumerate(manifests) if m is row.manifest), None)
        if position is None:
            manifests.append(row.manifest)
            position = len(manifests) - 1
        index.append(position)
    return BatchInput(
        manifests=manifests,
        manifest_index=np.array(index, dtype=np.int32),
        entity_id=[row.entity_id for row in rows],
        event_time=np.array([row.event_time for row in rows], dtype=np.float64),
        now=now,
        features=[row.features for row in rows],
        context=[row.context for row in rows],
        consent=ConsentColumns.from_states([row.consent for row in rows]),
        proxy=dict(proxy or {}),
    )
