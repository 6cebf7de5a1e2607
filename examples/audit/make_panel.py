"""Write the example audit panel: ``python examples/audit/make_panel.py [ROWS] [PATH]``.

The columns and what is planted in them are described in ``interceptor/offline/example.py`` and
in this directory's README. The committed ``panel.csv`` is ``make_panel.py 5000``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from interceptor.offline.example import write_panel

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    rows = int(argv[0]) if argv else 5_000
    path = Path(argv[1]) if len(argv) > 1 else HERE / "panel.csv"
    write_panel(path, rows)
    print(f"{path}: {rows:,} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
