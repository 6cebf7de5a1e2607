"""Hot reload: notice that the policy directory changed, and load it fully or not at all.

``poll`` is cheap enough to call between batches: it stats the rule files and the vocabulary at
most once per ``min_interval_s`` and loads only when names, sizes or mtimes changed. A load that
fails is rejected with its diagnostics and the caller keeps the bundle it has; a load during which
the files changed again is discarded and retried on the next poll, so a file caught mid-write never
becomes a bundle. An edit that spans several files is not loaded half done either: the directory is
read only once no file in it has changed for ``quiet_s`` (by modification time), so the poll that
falls between writing one file and the next sees a directory still settling and waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from interceptor.policy.errors import PolicyError
from interceptor.policy.loader import PolicyBundle, load_bundle, policy_files
from interceptor.policy.vocabulary import VOCABULARY_FILE

__all__ = ["PolicyWatcher", "ReloadOutcome", "fingerprint"]

Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class ReloadOutcome:
    """A reload attempt: the new bundle when accepted, the reasons when rejected."""

    accepted: bool
    bundle: PolicyBundle | None
    diagnostics: list[str] = field(default_factory=list)


def fingerprint(root: Path) -> Fingerprint:
    """(relative path, size, mtime_ns) of every file a bundle is loaded from."""
    entries = []
    for path in [root / VOCABULARY_FILE, *policy_files(root)]:
        try:
            stat = path.stat()
        except OSError:
            continue  # vanished between listing and stat: the next poll sees the new state
        entries.append((path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(entries))


class PolicyWatcher:
    """Polls a policy directory; the first poll always loads."""

    def __init__(
        self,
        path: Path,
        *,
        min_interval_s: float = 1.0,
        quiet_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.min_interval_s = min_interval_s
        self.quiet_s = quiet_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._checked_at: float | None = None
        self._seen: Fingerprint | None = None
        self._accepted_hash: str | None = None

    def poll(self) -> ReloadOutcome | None:
        """A reload outcome when the directory changed since the last poll, else ``None``.

        A change that leaves the bundle hash as it was (a touched file) yields ``None`` too.
        """
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < self.min_interval_s:
            return None
        self._checked_at = now
        before = fingerprint(self.path)
        if before == self._seen or self._settling(before):
            return None
        try:
            bundle = load_bundle(self.path)
        except PolicyError as exc:
            outcome = ReloadOutcome(accepted=False, bundle=None, diagnostics=exc.diagnostics)
        else:
            outcome = ReloadOutcome(accepted=True, bundle=bundle)
        if fingerprint(self.path) != before:
            return None  # changed while loading: what was read may be half of an edit
        self._seen = before
        if outcome.bundle is not None:
            if outcome.bundle.hash == self._accepted_hash:
                return None
            self._accepted_hash = outcome.bundle.hash
        return outcome

    def _settling(self, state: Fingerprint) -> bool:
        """A file changed less than ``quiet_s`` ago: an edit may be under way."""
        if not state:
            return False
        newest = max(mtime for _, _, mtime in state) / 1e9
        age = self._wall_clock() - newest
        return 0 <= age < self.quiet_s  # a future mtime (clock skew) does not hold reloads back
