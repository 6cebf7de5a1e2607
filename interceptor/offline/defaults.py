"""Default limits of ``interceptor audit``, kept apart so the parser needs no numeric imports."""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_MAX_LEVELS", "SAMPLE_ROWS"]

#: Most distinct values a protected column may have.
DEFAULT_MAX_LEVELS: Final = 64
#: Rows the combination probe is fitted on, at most (a uniform sample of the file).
SAMPLE_ROWS: Final = 20_000
