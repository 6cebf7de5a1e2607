"""``python -m interceptor`` is the ``interceptor`` command."""

from interceptor.cli import main

raise SystemExit(main())
