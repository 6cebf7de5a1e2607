"""A consent deletion while running: tombstone to the feature store, audit event, then blocked."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
from prometheus_client import CollectorRegistry

from interceptor.config import Settings
from interceptor.metrics import make_metrics
from interceptor.pipeline import Pipeline
from interceptor.stream import Runner
from tests.integration.feature_data import feature_record
from tests.integration.running import TopicTail, running, wait_for

pytestmark = pytest.mark.kafka

DELETED = {"deleted": True, "updated_at": "2026-12-01T10:00:00Z"}


def test_deletion_publishes_a_tombstone_and_blocks_the_entity(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
) -> None:
    settings = settings_factory()
    create_topics(settings)
    t = settings.topics
    bootstrap = settings.kafka.bootstrap_servers
    clean = TopicTail(bootstrap, [t.clean])
    audit = TopicTail(bootstrap, [t.audit])
    quarantine = TopicTail(bootstrap, [t.quarantine])
    registry = CollectorRegistry()
    runner = Runner(settings, Pipeline.from_settings(settings), make_metrics(registry))
    try:
        with running(runner):
            produce(t.consent, [(b"u-keep", orjson.dumps({"gpc": False}))])
            wait_for(lambda: registry.get_sample_value("interceptor_consent_entities") == 1, 20, "")
            produce(t.consent, [(b"u-del", orjson.dumps(DELETED))])
            clean.until(lambda seen: any(r.key == b"u-del" for r in seen), 20)
            audit.until(lambda seen: any(b'"deletion"' in (r.value or b"") for r in seen), 10)
            produce(t.inputs[0], [(b"u-del", feature_record("u-del", "contextual_page"))])
            quarantine.until(lambda seen: len(seen) >= 1, 20)
            assert registry.get_sample_value("interceptor_deletions_total") == 1
            assert registry.get_sample_value("interceptor_consent_entities") == 2
    finally:
        clean.close()
        audit.close()
        quarantine.close()
    tombstones = [r for r in clean.records if r.key == b"u-del"]
    assert len(tombstones) == 1 and tombstones[0].value is None
    source = tombstones[0].source
    assert source is not None and source[0] == t.consent
    event = next(
        orjson.loads(r.value or b"{}") for r in audit.records if b'"deletion"' in (r.value or b"")
    )
    assert event["kind"] == "deletion"
    assert event["entity"] and event["entity"] != "u-del"
    assert b"u-del" not in b"".join(r.value or b"" for r in audit.records)
    blocked = quarantine.records[0]
    assert blocked.key == b"u-del"
    assert blocked.header("interceptor-decision") == "block"
    assert blocked.header("interceptor-rules")  # the pack's deletion rule (or the built-in one)
