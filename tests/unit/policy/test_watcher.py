"""Hot reload: changes are loaded whole or rejected; the last good bundle stays in force."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from interceptor.policy import PolicyBundle, PolicyWatcher, load_bundle
from interceptor.policy import watcher as watcher_module
from tests.unit.policy.conftest import BundleFactory
from tests.unit.policy.helpers import rules_yaml

RULE = """
- id: R-1
  title: gpc
  cite: c
  severity: high
  when: {consent.gpc: {eq: true}}
  action: {action}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def write_rules(root: Path, action: str, *, tick: int) -> None:
    path = root / "rules.yaml"
    path.write_text(rules_yaml(RULE.replace("{action}", action)))
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # distinct mtimes, however fast the test


@pytest.fixture
def root(write_bundle: BundleFactory) -> Path:
    policy_dir = write_bundle({})
    write_rules(policy_dir, "block", tick=1)
    return policy_dir


def test_good_broken_and_fixed_changes(root: Path) -> None:
    clock = Clock()
    watcher = PolicyWatcher(root, min_interval_s=1.0, quiet_s=0.0, clock=clock)
    first = watcher.poll()
    assert first is not None and first.accepted and first.bundle is not None
    in_force: PolicyBundle = first.bundle
    assert watcher.poll() is None  # within the interval: not even looked at

    clock.now = 2.0
    assert watcher.poll() is None  # nothing changed

    write_rules(root, "blok", tick=2)
    clock.now = 4.0
    broken = watcher.poll()
    assert broken is not None and not broken.accepted and broken.bundle is None
    assert broken.diagnostics and "rules.yaml:" in broken.diagnostics[0]
    assert in_force.rule("R-1").action == "block"  # the caller keeps what it had

    clock.now = 6.0
    assert watcher.poll() is None  # the same broken state is not reported twice

    write_rules(root, "flag", tick=3)
    clock.now = 8.0
    fixed = watcher.poll()
    assert fixed is not None and fixed.accepted and fixed.bundle is not None
    assert fixed.bundle.rule("R-1").action == "flag"
    assert fixed.bundle.hash != in_force.hash


def test_a_touch_that_keeps_the_content_is_not_a_reload(root: Path) -> None:
    clock = Clock()
    watcher = PolicyWatcher(root, min_interval_s=0.0, quiet_s=0.0, clock=clock)
    assert watcher.poll() is not None
    write_rules(root, "block", tick=5)  # same bytes, new mtime
    assert watcher.poll() is None


def test_a_change_during_the_load_is_discarded_and_retried(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_load = load_bundle

    def load_while_someone_writes(path: Path) -> PolicyBundle:
        bundle = real_load(path)
        write_rules(root, "flag", tick=7)  # the editor was not done yet
        return bundle

    monkeypatch.setattr(watcher_module, "load_bundle", load_while_someone_writes)
    watcher = PolicyWatcher(root, min_interval_s=0.0, quiet_s=0.0)
    assert watcher.poll() is None
    monkeypatch.undo()
    outcome = watcher.poll()
    assert outcome is not None and outcome.bundle is not None
    assert outcome.bundle.rule("R-1").action == "flag"


def test_vocabulary_changes_are_seen(root: Path) -> None:
    watcher = PolicyWatcher(root, min_interval_s=0.0, quiet_s=0.0)
    assert watcher.poll() is not None
    vocabulary = root / "vocabulary.yaml"
    vocabulary.write_text(vocabulary.read_text().replace("sets:\n", "sets:\n  extra: [a]\n"))
    os.utime(vocabulary, ns=(9 * 10**9, 9 * 10**9))
    outcome = watcher.poll()
    assert outcome is not None and outcome.accepted


def test_an_edit_still_settling_is_not_loaded(root: Path) -> None:
    """A poll between the files of a multi-file edit must not load the half-done directory."""
    for path in root.rglob("*.yaml"):
        os.utime(path, ns=(100 * 10**9, 100 * 10**9))
    wall = Clock()
    watcher = PolicyWatcher(root, min_interval_s=0.0, quiet_s=1.0, wall_clock=wall)
    wall.now = 150.0
    assert watcher.poll() is not None
    write_rules(root, "flag", tick=200)  # written "now": the editor may write more files
    wall.now = 200.5
    assert watcher.poll() is None
    wall.now = 201.5
    outcome = watcher.poll()
    assert outcome is not None and outcome.bundle is not None
    assert outcome.bundle.rule("R-1").action == "flag"
