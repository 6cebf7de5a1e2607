"""The exception tree: one root, leaves that carry what a caller needs to report the problem."""

from __future__ import annotations

__all__ = ["ConfigError", "InterceptorError", "ManifestError", "SourceError"]


class InterceptorError(Exception):
    """Root of every error the interceptor raises on purpose."""


class SourceError(InterceptorError, ValueError):
    """A YAML or JSON document with problems, each reported as ``file:line:col: message``."""

    def __init__(self, diagnostics: list[str]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(diagnostics))


class ManifestError(SourceError):
    """A transformation manifest that cannot be loaded."""


class ConfigError(InterceptorError, ValueError):
    """A configuration file or environment override that is not valid."""
