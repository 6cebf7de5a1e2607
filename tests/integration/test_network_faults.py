"""The broker unreachable for 20 s behind a proxy the test controls, while records flow.

A dedicated broker advertises the proxy's port, so every client connection (bootstrap and
partition leaders alike) goes through the proxy; ``cut()`` drops them all and refuses new ones.
The interceptor's outputs time out after 8 s (``message.timeout.ms``), so the outage really fails
deliveries instead of only delaying them. Measured: liveness holds, ``/readyz`` answers 503 naming
the broker, the error and readiness metrics show the fault; after the proxy is back, every input
reaches an output, and at no sampled moment is an offset committed whose output is missing.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client import CollectorRegistry

from interceptor.config import Settings
from interceptor.embedded import EmbeddedBroker, free_port
from interceptor.health import HealthServer, HealthState
from interceptor.metrics import make_metrics
from interceptor.stream import Runner
from interceptor.stream.admin import ensure_topics, wait_until_ready
from tests.integration.netproxy import TcpProxy
from tests.integration.running import TopicTail, running, wait_for
from tests.integration.standin import StandInPipeline

pytestmark = pytest.mark.kafka

OUTAGE_S = 20.0
FAST_RECONNECT = {"reconnect.backoff.ms": 100, "reconnect.backoff.max.ms": 1000}


def _get(port: int, path: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


class Trickle(threading.Thread):
    """Produces 20 records every 100 ms until stopped; librdkafka holds them through the outage
    (idempotently: a request cut mid-flight must not duplicate inputs)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.sent = 0
        self.failed: list[str] = []
        self._producer = Producer(
            {"bootstrap.servers": bootstrap, "enable.idempotence": True, **FAST_RECONNECT}
        )
        self._topic = topic
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            for _ in range(20):
                self._producer.produce(
                    self._topic, b"v%d" % self.sent, b"k%d" % self.sent, on_delivery=self._report
                )
                self.sent += 1
            self._producer.poll(0.1)

    def _report(self, err: object, _msg: object) -> None:
        if err is not None:
            self.failed.append(str(err))

    def finish(self) -> None:
        self._done.set()
        self.join(10)
        assert self._producer.flush(30) == 0 and not self.failed, self.failed


def _committed(bootstrap: str, settings: Settings) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": settings.kafka.group_id})
    try:
        topic = settings.topics.inputs[0]
        parts = [TopicPartition(topic, p) for p in range(settings.topics.partitions)]
        return {tp.partition: tp.offset for tp in consumer.committed(parts, timeout=10)}
    finally:
        consumer.close()


def test_broker_unreachable_then_back_nothing_lost_nothing_committed_early(
    settings_factory: Callable[..., Settings],
) -> None:
    broker_port, proxy_port = free_port(), free_port()
    proxy = TcpProxy(proxy_port, broker_port).start()
    broker = EmbeddedBroker(broker_port, advertised_port=proxy_port, ready_check=wait_until_ready)
    broker.start()
    bootstrap = f"127.0.0.1:{proxy_port}"
    settings = settings_factory(
        kafka={
            "bootstrap_servers": bootstrap,
            "client": {"message.timeout.ms": 8000, **FAST_RECONNECT},
        },
        processing={"batch_size": 200},
    )
    ensure_topics(settings)
    raw = settings.topics.inputs[0]
    registry = CollectorRegistry()
    health = HealthState(liveness_timeout_s=10)
    runner = Runner(settings, StandInPipeline(), make_metrics(registry), health=health)
    trickle = Trickle(bootstrap, raw)
    tail: TopicTail | None = None
    try:
        with HealthServer(registry, health, host="127.0.0.1", port=0) as http, running(runner):
            wait_for(lambda: health.ready()[0], 30, "ready")
            trickle.start()
            wait_for(lambda: runner.progress().records_in >= 500, 30, "records flowing")
            proxy.cut()
            cut_at = time.monotonic()

            def broker_reported() -> bool:
                status, body = _get(http.port, "/readyz")
                reasons = body.get("reasons", {})
                return status == 503 and isinstance(reasons, dict) and "broker_reachable" in reasons

            wait_for(broker_reported, OUTAGE_S, "/readyz to name the broker")
            while time.monotonic() - cut_at < OUTAGE_S:
                assert _get(http.port, "/healthz")[0] == 200, "the loop must stay alive"
                time.sleep(1.0)
            assert registry.get_sample_value("interceptor_ready") == 0
            errors = {
                kind: registry.get_sample_value("interceptor_broker_errors_total", {"kind": kind})
                for kind in ("transport", "all_brokers_down", "msg_timed_out")
            }
            assert any(errors.values()), errors
            proxy.restore()

            time.sleep(2.0)
            trickle.finish()
            tail = TopicTail(bootstrap, [settings.topics.clean, settings.topics.deadletter])
            expected = {(raw, p, o) for (_, p, o) in _inputs(bootstrap, raw, trickle.sent)}
            assert len(expected) == trickle.sent
            # Sample the group's committed offsets while the backlog drains. An input below a
            # committed offset must have its output on the broker already; the tail reading the
            # outputs may lag behind, so it gets 10 s to find it before that counts as a
            # violation (an output committed past and never delivered would never turn up).
            deadline = time.monotonic() + 45
            violations: list[str] = []
            samples = 0
            while not expected <= {r.source for r in tail.records}:
                assert time.monotonic() < deadline, "inputs missing after the outage"
                committed = _committed(bootstrap, settings)
                below = {(raw, p, o) for (_, p, o) in expected if o < committed.get(p, 0)}
                samples += 1
                try:
                    tail.until(lambda seen, below=below: below <= {r.source for r in seen}, 10)
                except AssertionError:
                    missing = sorted(below - {r.source for r in tail.records})
                    violations.append(f"committed {committed}, outputs missing: {missing[:5]}")
                tail.poll(0.2)
            assert not violations, violations
            wait_for(lambda: _get(http.port, "/readyz")[0] == 200, 30, "ready again")
        sources = Counter(r.source for r in tail.records)
        print(
            f"outage {OUTAGE_S:.0f}s: {trickle.sent} inputs, {runner.progress().rewinds} rewinds, "
            f"{samples} commit samples, "
            f"{sum(n - 1 for n in sources.values())} duplicates, errors {errors}"
        )
    finally:
        if tail is not None:
            tail.close()
        proxy.stop()
        broker.stop()


def _inputs(bootstrap: str, topic: str, count: int) -> list[tuple[str, int, int]]:
    from tests.conftest import read_topics

    return [(r.topic, r.partition, r.offset) for r in read_topics(bootstrap, [topic], count)]
