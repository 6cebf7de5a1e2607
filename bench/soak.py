"""Soak: millions of records through one interceptor process; does memory or the fd count grow?

    .venv/bin/python bench/soak.py [--records 2000000] [--warmup 200000] [--batch-size 5000]

Starts the embedded broker and ``interceptor run`` as a child process (the default policy pack,
the example manifests, consent state and audit-panel attributes for part of the population, so
the proxy detectors run too), then feeds synthetic feature
records to two input topics, keeping at most ``--max-lag`` records ahead of the interceptor. Once
``--warmup`` records are through, it samples the child's resident set size (``VmRSS``) and its open
file descriptors (``/proc/PID/fd``) about once a second, and at the end prints the growth of both
from the first sample after warm-up to the last (goal: memory < 10 %, descriptors flat), with a
live progress line on stderr while it runs. A benchmark, not a test: it asserts nothing, and its
exit status is 0 whether or not the goals are met.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for entry in (str(REPO), str(REPO / "bench")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import orjson  # noqa: E402
import yaml  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from throughput import INPUTS, PARTITIONS, synthetic  # noqa: E402

from interceptor.config import DEFAULT_PROTECTED, Settings  # noqa: E402
from interceptor.embedded import EmbeddedBroker, free_port  # noqa: E402
from interceptor.manifests import load_manifest_dir  # noqa: E402
from interceptor.stream.admin import TopicSpec, ensure_topics, wait_until_ready  # noqa: E402

POOL = 100_000  # distinct records, re-sent with fresh offsets
ENTITIES_WITH_CONSENT = 20_000


def _config(bootstrap: str, metrics_port: int, batch_size: int, path: Path) -> Settings:
    data: dict[str, Any] = {
        "kafka": {"bootstrap_servers": bootstrap, "group_id": "soak", "session_timeout_ms": 6000},
        "topics": {
            "inputs": list(INPUTS),
            "clean": "soak.clean",
            "quarantine": "soak.quarantine",
            "audit": "soak.audit",
            "deadletter": "soak.deadletter",
            "consent": "soak.consent",
            "audit_panel": "soak.panel",
            "transformations": "soak.transformations",
            "detector_state": "soak.detector",
        },
        "processing": {"batch_size": batch_size, "batch_timeout_ms": 100},
        "policies": {"path": str(REPO / "policies"), "reload": True},
        "manifests": {"path": str(REPO / "examples" / "transformations")},
        "metrics": {"host": "127.0.0.1", "port": metrics_port},
        "audit": {"entity_salt": "soak-salt-0123456789abcdef"},
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return Settings(**data)


def _consent(bootstrap: str, rng: random.Random) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for i in range(ENTITIES_WITH_CONSENT):
        state = {
            "opt_out_sale_share": rng.random() < 0.2,
            "gpc": rng.random() < 0.1,
            "limit_spi": rng.random() < 0.1,
            "age": rng.choice([None, 15, 25, 40, 70]),
            "deleted": rng.random() < 0.01,
            "updated_at": "2026-01-01T00:00:00Z",
        }
        producer.produce("soak.consent", orjson.dumps(state), f"u-{i}".encode())
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(30)


def _panel(bootstrap: str, rng: random.Random) -> None:
    """Protected attributes for part of the population, so the proxy detectors have work."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for i in range(0, ENTITIES_WITH_CONSENT * 2, 2):
        attributes = {name: rng.choice(levels) for name, levels in DEFAULT_PROTECTED.items()}
        producer.produce("soak.panel", orjson.dumps(attributes), f"u-{i}".encode())
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(30)


def _consumed(port: int) -> int:
    """Records the interceptor has consumed, from its own /metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return -1
    total = 0.0
    for line in text.splitlines():
        if line.startswith("interceptor_records_consumed_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Feeder(threading.Thread):
    """Produces ``total`` records, never more than ``max_lag`` ahead of the consumed count."""

    def __init__(self, bootstrap: str, pool: list[tuple[bytes, bytes]], total: int, max_lag: int):
        super().__init__(daemon=True)
        self.produced = 0
        self.consumed = 0  # updated by the sampler
        self.error: BaseException | None = None
        self._servers = bootstrap
        self._pool = pool
        self._total = total
        self._max_lag = max_lag

    def run(self) -> None:
        try:
            producer = Producer(
                {"bootstrap.servers": self._servers, "linger.ms": 20, "compression.type": "lz4"}
            )
            pool, n = self._pool, len(self._pool)
            while self.produced < self._total:
                if self.produced - max(self.consumed, 0) >= self._max_lag:
                    producer.poll(0.05)
                    continue
                key, value = pool[self.produced % n]
                try:
                    producer.produce(INPUTS[self.produced % len(INPUTS)], value, key)
                except BufferError:
                    producer.poll(0.05)
                    continue
                self.produced += 1
                if self.produced % 10_000 == 0:
                    producer.poll(0)
            while producer.flush(1.0):
                pass
        except BaseException as exc:
            self.error = exc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--warmup", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--max-lag", type=int, default=100_000)
    args = parser.parse_args()

    rng = random.Random(5)
    manifests = load_manifest_dir(REPO / "examples" / "transformations")
    pool = synthetic(POOL, manifests, seed=5)
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    with EmbeddedBroker(ready_check=wait_until_ready, log_path=workdir / "broker.log") as broker:
        port = free_port()
        settings = _config(broker.bootstrap, port, args.batch_size, workdir / "soak.yaml")
        ensure_topics(settings, [TopicSpec(t, PARTITIONS) for t in INPUTS])
        ensure_topics(settings)
        _consent(broker.bootstrap, rng)
        _panel(broker.bootstrap, rng)
        log = (workdir / "interceptor.log").open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTERCEPTOR_")}
        child = subprocess.Popen(
            [sys.executable, "-m", "interceptor", "--log-level", "WARNING", "run", "--config",
             str(workdir / "soak.yaml")],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        feeder = Feeder(broker.bootstrap, pool, args.records, args.max_lag)
        feeder.start()
        samples: list[tuple[int, float, int, int]] = []  # (consumed, t, rss_kb, fds)
        started = time.monotonic()
        try:
            while True:
                consumed = _consumed(port)
                feeder.consumed = consumed
                if child.poll() is not None:
                    raise SystemExit(f"the interceptor exited ({child.returncode}); see {log.name}")
                if feeder.error is not None:
                    raise SystemExit(f"feeding failed: {feeder.error}")
                if consumed >= args.warmup:
                    samples.append(
                        (consumed, time.monotonic() - started, _rss_kb(child.pid), _fds(child.pid))
                    )
                rss = _rss_kb(child.pid) / 1024
                print(
                    f"\r  {max(consumed, 0):>9,}/{args.records:,} records  "
                    f"{time.monotonic() - started:6.0f} s  RSS {rss:6.1f} MB  "
                    f"fds {_fds(child.pid):4d}  {'warm' if consumed >= args.warmup else 'warm-up'}",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
                if consumed >= args.records:
                    break
                time.sleep(1.0)
        finally:
            child.terminate()
            child.wait(60)
            log.close()
            print(file=sys.stderr)
    elapsed = time.monotonic() - started
    if len(samples) < 2:
        print("not enough samples after warm-up; raise --records or lower --warmup")
        return 0
    first, last = samples[0], samples[-1]
    peak_rss = max(s[2] for s in samples)
    fds = [s[3] for s in samples]
    growth = (last[2] - first[2]) / first[2] * 100
    print(f"records: {last[0]:,} in {elapsed:.0f} s ({last[0] / elapsed:,.0f} records/s overall)")
    print(
        f"RSS after warm-up ({first[0]:,} records): {first[2] / 1024:.1f} MB; "
        f"at the end: {last[2] / 1024:.1f} MB; peak {peak_rss / 1024:.1f} MB; "
        f"growth {growth:+.1f} % (goal < 10 %)"
    )
    print(
        f"open fds after warm-up: {fds[0]}; at the end: {fds[-1]}; "
        f"min {min(fds)} max {max(fds)} (goal: flat)"
    )
    print(f"samples: {len(samples)}; exit status of the interceptor: {child.returncode}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
