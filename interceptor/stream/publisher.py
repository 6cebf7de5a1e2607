"""Publishing batches of ready-made messages: the demo's producer and the benchmarks' loader."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from interceptor.errors import InterceptorError

__all__ = ["PublishError", "publish"]

Headers = tuple[tuple[str, bytes], ...]


class PublishError(InterceptorError, RuntimeError):
    """The broker refused some of the messages."""


def publish(
    config: dict[str, Any],
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes | None, Headers]],
    *,
    progress: Callable[[int], None] | None = None,
    report_every: int = 5000,
) -> int:
    """Produce every ``(key, value, headers)`` to ``topic``, wait for all acks; return the count.

    Raises :class:`PublishError` if any message was not acknowledged: a demo or benchmark that
    silently lost input would report wrong figures.
    """
    producer = Producer({"linger.ms": 10, "enable.idempotence": True, **config})
    failures: list[str] = []

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(str(error))

    sent = 0
    for key, value, headers in messages:
        while True:
            try:
                producer.produce(
                    topic, value=value, key=key, headers=list(headers), on_delivery=on_delivery
                )
                break
            except BufferError:
                producer.poll(0.05)
            except KafkaException as exc:
                raise PublishError(f"cannot produce to {topic}: {exc}") from exc
        sent += 1
        if sent % report_every == 0:
            producer.poll(0)
            if progress is not None:
                progress(sent)
    deadline = time.monotonic() + 60
    while producer.flush(1.0) > 0:
        if time.monotonic() > deadline:
            raise PublishError(f"{topic}: messages still unacknowledged after 60 s")
    producer.close()
    if failures:
        raise PublishError(f"{len(failures)} messages to {topic} failed, first: {failures[0]}")
    if progress is not None:
        progress(sent)
    return sent
