"""A demo run, read back whole: no raw entity id and no protected attribute where none may be.

The demo runs as a user runs it (``interceptor demo``, INFO logging, a secret entity salt from
the environment) against a broker of its own (the demo's topic names are fixed, and other tests
write to them on the session broker), and the test reads every topic it wrote: the
inputs, consent, the audit panel (if the demo publishes one), the three routed outputs and the
audit trail, plus everything the process logged. Raw entity ids belong in the routed outputs
(the feature store keys by them) and nowhere else: not in audit events (their entity is a keyed
hash, under the configured salt), not in the logs. Protected attributes (audit-panel values)
must not reach any output, audit event or log line: an output may only carry such a value where
its input already did.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from interceptor.audit import EntityHasher
from interceptor.config import DEV_ENTITY_SALT
from interceptor.embedded import EmbeddedBroker
from interceptor.stream.admin import wait_until_ready
from tests.conftest import REPO, ReadRecord, read_topics

pytestmark = pytest.mark.kafka

TOPICS = {
    "inputs": "features.raw",
    "clean": "features.clean",
    "quarantine": "features.quarantine",
    "deadletter": "features.deadletter",
    "audit": "compliance.audit",
    "consent": "privacy.consent",
    "panel": "privacy.audit-panel",
}
_TOKEN = re.compile(r"[A-Za-z0-9_.:@-]+")


def _json(value: bytes | None) -> Any:
    try:
        return orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None


def _strings(document: Any) -> Iterator[str]:
    """Every key and string value of a JSON document, at any depth."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(document, list):
        for item in document:
            yield from _strings(item)
    elif isinstance(document, str):
        yield document


def _read_all(bootstrap: str) -> dict[str, list[ReadRecord]]:
    """Everything on the demo's topics (read until the time is up: no count is known)."""
    records = read_topics(bootstrap, TOPICS.values(), 10**9, timeout_s=2.5)
    return {name: [r for r in records if r.topic == topic] for name, topic in TOPICS.items()}


def test_demo_outputs_audit_and_logs_leak_nothing() -> None:
    with EmbeddedBroker(ready_check=wait_until_ready) as broker:
        _scan_a_demo_run(broker.bootstrap)


def _scan_a_demo_run(bootstrap: str) -> None:
    salt = f"privacy-test-{uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERCEPTOR_")}
    env["INTERCEPTOR_AUDIT__ENTITY_SALT"] = salt
    done = subprocess.run(
        [sys.executable, "-m", "interceptor", "--log-level", "INFO", "demo",
         "--records", "2000", "--entities", "300", "--metrics-port", "0",
         "--bootstrap-servers", bootstrap],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    logs = done.stdout + done.stderr
    assert done.returncode == 0, logs[-3000:]
    read = _read_all(bootstrap)
    assert len(read["inputs"]) == 2000 and read["audit"]

    # Who is who: entity ids from the inputs, the consent topic and the panel.
    inputs = {(r.topic, r.partition, r.offset): r for r in read["inputs"]}
    entity_of: dict[tuple[str, int, int], str] = {}
    for src, r in inputs.items():
        doc = _json(r.value)
        if isinstance(doc, dict) and isinstance(doc.get("entity_id"), str):
            entity_of[src] = doc["entity_id"]
    entities = set(entity_of.values())
    entities |= {(r.key or b"").decode(errors="replace") for r in read["consent"] + read["panel"]}
    entities.discard("")
    assert len(entities) > 100

    # 1. The audit trail: no raw entity id anywhere; entity hashes keyed with the secret salt.
    keyed, dev = EntityHasher(salt.encode()), EntityHasher(DEV_ENTITY_SALT.encode())
    hashed = {keyed(e): e for e in entities}
    checked = 0
    for r in read["audit"]:
        event = _json(r.value)
        assert isinstance(event, dict), r.value
        texts = set(_strings(event)) | {(r.key or b"").decode(errors="replace")}
        texts |= {v.decode(errors="replace") for _, v in r.headers}
        assert not texts & entities, f"raw entity id in audit event {event.get('kind')}"
        if event.get("entity") is None:
            continue
        assert event["entity"] in hashed, "an audit entity hash not keyed with the configured salt"
        assert event["entity"] != dev(hashed[event["entity"]])
        source = event.get("source") or {}
        src = (source.get("topic"), source.get("partition"), source.get("offset"))
        if src in entity_of:
            assert hashed[event["entity"]] == entity_of[src]
            checked += 1
    assert checked > 0

    # 2. The logs: no raw entity id.
    leaked = set(_TOKEN.findall(logs)) & entities
    assert not leaked, f"entity ids in the logs: {sorted(leaked)[:5]}"

    # 3. Protected attributes: panel values reach nothing that did not already carry them.
    panel: dict[str, dict[str, str]] = {}
    for r in read["panel"]:
        doc = _json(r.value)
        if isinstance(doc, dict) and r.key:
            panel[r.key.decode()] = {k: str(v) for k, v in doc.items() if v is not None}
    attributes = {name for values in panel.values() for name in values}
    for name in ("clean", "quarantine", "deadletter"):
        for r in read[name]:
            src = r.source
            if src is None or src not in inputs:
                continue  # a deletion tombstone: no value at all
            entity = entity_of.get(src)
            before = set(_strings(_json(inputs[src].value)))
            after = set(_strings(_json(r.value)))
            new = after - before
            assert not new & attributes, f"a protected attribute name appeared in {name}"
            if entity in panel:
                assert not new & set(panel[entity].values()), f"panel value of {src} in {name}"
    for r in read["audit"]:
        event = _json(r.value)
        entity = hashed.get(event.get("entity") or "")
        if entity in panel:
            source = event.get("source") or {}
            src = (source.get("topic"), source.get("partition"), source.get("offset"))
            before = set(_strings(_json(inputs[src].value))) if src in inputs else set()
            carried = set(_strings(event)) - before
            assert not carried & set(panel[entity].values()), "a panel value in an audit event"
    for values in panel.values():
        for attribute, value in values.items():
            assert f'"{attribute}":"{value}"' not in logs.replace(" ", "")
    print(
        f"scanned {sum(len(v) for v in read.values())} messages and {len(logs)} bytes of logs; "
        f"{len(entities)} entity ids, {checked} audit hashes matched to their inputs, "
        f"{len(panel)} audit-panel entities ({', '.join(sorted(attributes)) or 'no panel'})"
    )
