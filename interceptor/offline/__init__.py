"""``interceptor audit``: the proxy detectors run offline on a CSV or Parquet file.

The scan itself is :func:`interceptor.offline.scan.scan_file`; it is not imported here, so that
registering the command costs the main parser no numeric imports.
"""

from __future__ import annotations

from interceptor.offline.errors import AuditInputError
from interceptor.offline.result import AuditResult, CombinationRow, ProxyRow

__all__ = ["AuditInputError", "AuditResult", "CombinationRow", "ProxyRow"]
