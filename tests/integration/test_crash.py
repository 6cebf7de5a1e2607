"""``kill -9`` mid-stream, restart: every input offset reaches an output (duplicates allowed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from interceptor.config import Settings
from tests.conftest import REPO, ReadRecord
from tests.integration.feature_data import valid_messages
from tests.integration.running import TopicTail

pytestmark = pytest.mark.kafka

RECORDS = 30_000


def _config_file(settings: Settings, path: Path) -> Path:
    data = settings.model_dump(mode="json")
    data["audit"]["entity_salt"] = settings.audit.entity_salt.get_secret_value()
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERCEPTOR_")}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "interceptor", "run", "--config", str(config)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_kill_9_mid_stream_loses_nothing(
    settings_factory: Callable[..., Settings],
    create_topics: Callable[[Settings], None],
    produce: Callable[..., None],
    read: Callable[..., list[ReadRecord]],
    tmp_path: Path,
) -> None:
    settings = settings_factory(processing={"batch_size": 200})
    create_topics(settings)
    config = _config_file(settings, tmp_path / "interceptor.yaml")
    log = tmp_path / "interceptor.log"
    raw = settings.topics.inputs[0]
    t = settings.topics
    messages = valid_messages(RECORDS)

    killed = threading.Event()

    def trickle() -> None:
        """Half the stream, then the rest only after the kill: the kill lands mid-stream
        however fast the interceptor is."""
        for start in range(0, RECORDS, 2000):
            if start >= RECORDS // 2:
                killed.wait(60)
            produce(raw, messages[start : start + 2000])
            time.sleep(0.1)

    producer = threading.Thread(target=trickle, daemon=True)
    producer.start()
    tail = TopicTail(settings.kafka.bootstrap_servers, [t.clean, t.quarantine, t.deadletter])
    first = _start(config, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        tail.until(lambda seen: len(seen) >= 6000, 40)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed.set()
        killed_at = len(tail.records)
        assert killed_at < RECORDS, "the interceptor finished before it could be killed"
        second = _start(config, log)
        producer.join(30)
        inputs = read([raw], RECORDS)
        assert len(inputs) == RECORDS
        expected = {(r.topic, r.partition, r.offset) for r in inputs}
        tail.until(lambda seen: expected <= {r.source for r in seen}, 50)
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0, log.read_text()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        tail.close()
    sources = Counter(r.source for r in tail.records)
    missing = expected - set(sources)
    assert not missing, f"{len(missing)} input records never reached an output"
    duplicates = sum(n - 1 for n in sources.values())
    print(f"killed after {killed_at} outputs; {duplicates} duplicates after the restart")
