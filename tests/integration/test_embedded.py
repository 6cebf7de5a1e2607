"""The embedded broker: ``interceptor broker`` in the foreground, and a taken port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from interceptor.embedded import BrokerError, EmbeddedBroker, free_port
from interceptor.stream.admin import wait_until_ready
from tests.conftest import REPO

pytestmark = pytest.mark.kafka


def test_broker_command_serves_until_sigterm() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERCEPTOR_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "interceptor", "broker", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        announced = f"bootstrap.servers=127.0.0.1:{port}"
        seen = []
        for line in proc.stdout:  # ends at EOF if the command dies
            seen.append(line)
            if announced in line:
                break
        assert announced in "".join(seen), seen
        wait_until_ready(f"127.0.0.1:{port}", 10)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_port_in_use_is_reported(broker: EmbeddedBroker) -> None:
    with pytest.raises(BrokerError, match="already in use"):
        EmbeddedBroker(broker.port).start()
