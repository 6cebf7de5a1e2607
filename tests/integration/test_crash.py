"""Repeated ``kill -9`` while records flow, restart after each: what reaches the outputs?

At-least-once: every input offset reaches clean, quarantine or dead-letter (duplicates allowed).
Exactly-once: the same, read with ``read_committed``, and no input twice when the broker hides
aborted transactions. The embedded broker does not (it hides open transactions but returns the
records of aborted ones: see ``broker_hides_aborted_transactions``), so there the records of the
transaction a kill left open reappear once; the test then bounds the duplicates by one batch per
kill and says so in its output.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from interceptor.config import Settings
from tests.conftest import ReadRecord
from tests.integration.feature_data import valid_messages
from tests.integration.processes import (
    broker_hides_aborted_transactions,
    committed,
    config_file,
    start,
)
from tests.integration.running import TopicTail

pytestmark = pytest.mark.kafka

BATCH = 200
SESSION_TIMEOUT_MS = 3000  # a killed member holds its partitions this long


@pytest.mark.parametrize(("guarantee", "kills"), [("at-least-once", 3), ("exactly-once", 2)])
def test_repeated_kill_9_loses_nothing(
    guarantee: str,
    kills: int,
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    create_topic: Callable[[str, int], None],
    produce: Callable[..., None],
    read: Callable[..., list[ReadRecord]],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    settings = settings_factory(
        processing={"batch_size": BATCH, "guarantee": guarantee},
        kafka={"transactional_id": unique("txn"), "session_timeout_ms": SESSION_TIMEOUT_MS},
    )
    create_topics(settings)
    config = config_file(settings, tmp_path / "interceptor.yaml")
    log = tmp_path / "interceptor.log"
    raw = settings.topics.inputs[0]
    t = settings.topics
    pool = valid_messages(3000)
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    done_killing = threading.Event()
    sent = 0
    bursts: list[int] = []  # the next trickle step sends this many instead

    def trickle() -> None:
        """About 1,500 records a second until the kills are over, then 2,000 more."""
        nonlocal sent
        while not done_killing.is_set():
            burst = 300 if not bursts else bursts.pop()
            produce(raw, [pool[(sent + i) % len(pool)] for i in range(burst)])
            sent += burst
            time.sleep(0.2)
        produce(raw, [pool[(sent + i) % len(pool)] for i in range(2000)])
        sent += 2000

    def progress() -> int:
        return sum(max(o, 0) for o in committed(settings, raw, t.partitions).values())

    producer = threading.Thread(target=trickle, daemon=True)
    producer.start()
    tail = TopicTail(settings.kafka.bootstrap_servers, [t.clean, t.quarantine, t.deadletter])
    procs: list[subprocess.Popen[bytes]] = []
    at_kill: list[dict[int, int]] = []
    try:
        procs.append(start(config, log))
        previous = 0
        for _ in range(kills):
            # The current instance is working (it committed since the last kill); a burst
            # of 10,000 records keeps it busy for a while, and the kill lands at a random
            # moment of that.
            deadline = time.monotonic() + 40
            while progress() <= previous:
                assert time.monotonic() < deadline, "no progress after a restart"
                time.sleep(0.2)
            bursts.append(10_000)
            while bursts:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.2, 0.6))
            procs[-1].send_signal(signal.SIGKILL)
            procs[-1].wait(10)
            at_kill.append(committed(settings, raw, t.partitions))
            previous = sum(max(o, 0) for o in at_kill[-1].values())
            procs.append(start(config, log))
        done_killing.set()
        producer.join(30)
        inputs = read([raw], sent)
        assert len(inputs) == sent
        expected = {(r.topic, r.partition, r.offset) for r in inputs}
        tail.until(lambda seen: expected <= {r.source for r in seen}, 50)
        procs[-1].send_signal(signal.SIGTERM)
        assert procs[-1].wait(20) == 0, log.read_text()[-3000:]
        tail.poll(0.5)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        tail.close()
    sources = Counter(r.source for r in tail.records)
    assert not expected - set(sources), "inputs lost"
    duplicates = sum(n - 1 for n in sources.values())
    final = committed(settings, raw, t.partitions)
    per_partition = Counter(p for (_, p, _) in expected)
    assert final == {p: per_partition[p] for p in range(t.partitions)}
    print(
        f"{guarantee}: {kills} kills (seed {seed}), {sent} inputs, {duplicates} duplicates; "
        f"committed at the kills: {at_kill}"
    )
    if guarantee == "exactly-once":
        probe = unique("txn-probe")
        create_topic(probe, 1)
        if broker_hides_aborted_transactions(settings.kafka.bootstrap_servers, probe):
            assert duplicates == 0
        else:
            print("the broker returns aborted transactions to read_committed readers")
            assert duplicates <= kills * BATCH
