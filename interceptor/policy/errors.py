"""The policy engine's error: a bundle that cannot be loaded, with every problem located."""

from __future__ import annotations

from interceptor.errors import SourceError

__all__ = ["PolicyError"]


class PolicyError(SourceError):
    """A policy bundle or vocabulary with problems, each as ``file:line:col: message``."""
