"""Run a Runner on a background thread for the length of a ``with`` block."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from interceptor.stream import Runner


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)


@contextmanager
def running(runner: Runner, *, join_timeout_s: float = 30.0) -> Iterator[Runner]:
    """Start ``runner.run()`` on a thread; stop it and re-raise its error on exit."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            runner.run()
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)

    thread = threading.Thread(target=target, name="runner", daemon=True)
    thread.start()
    try:
        yield runner
    finally:
        runner.request_stop()
        thread.join(join_timeout_s)
        assert not thread.is_alive(), "runner did not stop in time"
    if errors:
        raise errors[0]
