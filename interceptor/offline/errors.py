"""Errors of ``interceptor audit``: input the scan cannot use, reported as one line."""

from __future__ import annotations

from interceptor.errors import InterceptorError

__all__ = ["AuditInputError"]


class AuditInputError(InterceptorError, ValueError):
    """A data file or column choice the audit cannot use; the message names the file or column."""
