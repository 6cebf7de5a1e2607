"""One live stack for the session: ``interceptor demo`` scraped by a real Prometheus on loopback.

The demo (its own embedded broker, synthetic traffic, the interceptor) serves /metrics; Debian's
``prometheus`` (installed by ``make test``) scrapes it every second with the alert rules loaded.
Both are child processes, stopped at the end of the session; a killed test run takes them along
(parent-death signal).
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from interceptor.embedded import free_port
from tests.conftest import REPO
from tests.deploy.support import ALERTS, Prometheus, write_yaml

DEMO_RECORDS = 3000
#: Scrapes after the last record was seen, so that rate() and friends have points to work with.
SETTLE_SCRAPES = 3


@dataclass(frozen=True)
class LiveStack:
    prometheus: Prometheus
    metrics_url: str
    records: int


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start(args: list[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
    )


def _stop(process: subprocess.Popen[bytes], sig: int, timeout_s: float) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _wait(condition: Callable[[], bool], timeout_s: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs)
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


def require_prometheus_tools() -> None:
    missing = [tool for tool in ("prometheus", "promtool") if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: `make test` installs Debian's prometheus "
            "package (make prometheus-tools)"
        )


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    require_prometheus_tools()
    work = tmp_path_factory.mktemp("live-stack")
    metrics_port, prometheus_port = free_port(), free_port()
    config = write_yaml(
        work / "prometheus.yml",
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [
                {
                    "job_name": "interceptor",
                    "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
                }
            ],
        },
    )
    prometheus_log, demo_log = work / "prometheus.log", work / "demo.log"
    with prometheus_log.open("wb") as plog, demo_log.open("wb") as dlog:
        prometheus = _start(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
                "--log.level=warn",
            ],
            plog,
        )
        demo = _start(
            [
                sys.executable, "-m", "interceptor", "--log-level", "WARNING", "demo",
                "--records", str(DEMO_RECORDS), "--entities", "300",
                "--metrics-port", str(metrics_port), "--keep-running",
            ],
            dlog,
        )  # fmt: skip
        logs = [demo_log, prometheus_log]
        client = Prometheus(f"http://127.0.0.1:{prometheus_port}")

        def seen_everything() -> bool:
            if demo.poll() is not None or prometheus.poll() is not None:
                raise AssertionError(
                    "the demo or prometheus exited early\n"
                    + "\n".join(p.read_text(errors="replace")[-3000:] for p in logs)
                )
            try:
                total = client.value('sum(interceptor_records_total{job="interceptor"})')
            except (OSError, AssertionError):
                return False
            return total == DEMO_RECORDS

        try:
            _wait(seen_everything, 45, "Prometheus to scrape every demo record", logs)
            scrapes = f'count_over_time(up{{job="interceptor"}}[1m]) >= {SETTLE_SCRAPES + 2}'
            _wait(lambda: bool(client.series(scrapes)), 10, "a few more scrapes", logs)
            time.sleep(SETTLE_SCRAPES)
            yield LiveStack(client, f"http://127.0.0.1:{metrics_port}/metrics", DEMO_RECORDS)
        finally:
            _stop(demo, signal.SIGINT, 20)
            _stop(prometheus, signal.SIGTERM, 10)
