"""A second instance joins mid-stream: partitions move, nothing is lost, revoked work committed."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from interceptor.config import Settings
from interceptor.metrics import make_metrics
from interceptor.stream import Runner
from tests.conftest import ReadRecord
from tests.integration.running import TopicTail, running, wait_for
from tests.integration.standin import StandInPipeline

pytestmark = pytest.mark.kafka

RECORDS = 6000


def test_second_instance_takes_partitions_without_loss(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
    read: Callable[..., list[ReadRecord]],
) -> None:
    settings = settings_factory(processing={"batch_size": 100})
    create_topics(settings)
    raw = settings.topics.inputs[0]
    messages = [(f"k{i}".encode(), f"v{i}".encode()) for i in range(RECORDS)]

    def trickle() -> None:  # about 12 s: longer than a rebalance on the embedded broker
        for start in range(0, RECORDS, 200):
            produce(raw, messages[start : start + 200])
            time.sleep(0.4)

    producer = threading.Thread(target=trickle, daemon=True)
    first = Runner(settings, StandInPipeline(), make_metrics(CollectorRegistry()))
    second = Runner(settings, StandInPipeline(), make_metrics(CollectorRegistry()))
    tail = TopicTail(settings.kafka.bootstrap_servers, [settings.topics.clean])
    try:
        with running(first):
            producer.start()
            wait_for(lambda: first.progress().records_in >= 500, 30, "the first instance")
            with running(second):
                producer.join(30)
                inputs = read([raw], RECORDS)
                expected = {(r.topic, r.partition, r.offset) for r in inputs}
                tail.until(lambda seen: expected <= {r.source for r in seen}, 40)
                assert second.progress().records_in > 0, "the joining instance got no partition"
    finally:
        tail.close()
    sources = Counter(r.source for r in tail.records)
    assert not expected - set(sources)
    print(f"duplicates across the rebalance: {sum(n - 1 for n in sources.values())}")
