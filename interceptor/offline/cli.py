"""``interceptor audit``: the proxy detectors run offline on a CSV or Parquet file.

:func:`add_audit_command` registers the command on the main parser's subparsers; its handler
returns the exit status: 0 when the scan ran (whatever it found), 1 with ``--fail-on-proxy`` when
a feature or the feature combination was flagged, 2 for input the scan cannot use (printed as one
``error:`` line, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from rich.console import Console

from interceptor.offline.defaults import DEFAULT_MAX_LEVELS, SAMPLE_ROWS
from interceptor.offline.errors import AuditInputError

__all__ = ["EXIT_BAD_INPUT", "EXIT_FLAGGED", "add_audit_command", "run_audit"]

EXIT_FLAGGED: Final = 1
EXIT_BAD_INPUT: Final = 2
_PIPE_WIDTH: Final = 120

_DESCRIPTION: Final = """\
Scan a CSV or Parquet file for features that act as proxies for protected attributes, with the
same detector engine the stream uses: each feature's Miller-Madow mutual information with each
protected attribute divided by the attribute's entropy, a confidence interval, a Holm-corrected
test, a guard against ID-like features, and a cross-fitted classifier on all features together.
"""
_EPILOG: Final = """\
exit status: 0 when the scan ran, flagged or not; 1 with --fail-on-proxy when a feature or the
combination of features is flagged (review or proxy); 2 when the input cannot be used.

example: interceptor audit examples/audit/panel.csv --protected race,sex,age_band \\
             --entity user_id --json audit.json --html audit.html
"""
_OUTPUT_DIR_MISSING: Final = "{option} {path}: directory {parent} does not exist"
_CANNOT_WRITE: Final = "{option} {path}: cannot write: {reason}"


def _columns(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of column names")
    return names


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _check_output(option: str, path: Path | None) -> None:
    if path is not None and not path.parent.resolve().is_dir():
        raise AuditInputError(
            _OUTPUT_DIR_MISSING.format(option=option, path=path, parent=path.parent)
        )


def _write(option: str, path: Path, write: Callable[[Path], None]) -> None:
    try:
        write(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise AuditInputError(
            _CANNOT_WRITE.format(option=option, path=path, reason=reason)
        ) from exc


def run_audit(
    args: argparse.Namespace, *, console: Console | None = None, err: Console | None = None
) -> int:
    """Scan ``args.data``, print the findings, write the requested reports."""
    from interceptor.offline.report_html import write_html
    from interceptor.offline.report_json import write_json
    from interceptor.offline.scan import AuditOptions, scan_file
    from interceptor.offline.terminal import render_findings

    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=_PIPE_WIDTH)  # a file or a pipe: no reason to wrap at 80
    err = err or Console(stderr=True)
    options = AuditOptions(
        path=args.data,
        protected=tuple(args.protected),
        features=tuple(args.features) if args.features else None,
        exclude=tuple(args.exclude or ()),
        categorical=tuple(args.categorical or ()),
        entity=args.entity,
        max_levels=args.max_levels,
        combination=not args.no_combination,
        progress=not args.no_progress,
        seed=args.seed,
        sample_rows=args.sample_rows,
    )
    try:
        _check_output("--json", args.json)
        _check_output("--html", args.html)
        result = scan_file(options, progress_console=err)
        if args.json is not None:
            _write("--json", args.json, lambda path: write_json(result, path))
        if args.html is not None:
            _write("--html", args.html, lambda path: write_html(result, path))
    except AuditInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    render_findings(console, result, show_all=args.all)
    for option, path in (("JSON", args.json), ("HTML report", args.html)):
        if path is not None:
            console.print(f"{option} written to {path}", highlight=False)
    if args.fail_on_proxy and result.any_flagged:
        return EXIT_FLAGGED
    return 0


def add_audit_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``audit``; it sets ``func(args) -> exit status``."""
    audit = subparsers.add_parser(
        "audit",
        help="offline proxy scan of a CSV or Parquet file",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit.add_argument(
        "data", type=Path, metavar="DATA", help="a .csv, .tsv, .csv.gz or .parquet file"
    )
    audit.add_argument(
        "--protected",
        type=_columns,
        action="extend",
        required=True,
        metavar="COLS",
        help="comma-separated protected attribute columns (each with at most --max-levels values)",
    )
    audit.add_argument(
        "--features",
        type=_columns,
        action="extend",
        metavar="COLS",
        help="comma-separated feature columns (default: every other column)",
    )
    audit.add_argument(
        "--exclude",
        type=_columns,
        action="extend",
        metavar="COLS",
        help="columns to leave out of the default feature set",
    )
    audit.add_argument(
        "--categorical",
        type=_columns,
        action="extend",
        metavar="COLS",
        help="integer columns that are codes, not quantities (read as categories, not binned); "
        "CSV integers written with leading zeros are codes already",
    )
    audit.add_argument(
        "--entity",
        metavar="COL",
        help="person id column: splits rows into cross-fitting folds by person, not by row",
    )
    audit.add_argument("--json", type=Path, metavar="PATH", help="write the findings as JSON")
    audit.add_argument("--html", type=Path, metavar="PATH", help="write an HTML report")
    audit.add_argument(
        "--fail-on-proxy",
        action="store_true",
        help="exit 1 if anything is flagged (review or proxy): a CI gate",
    )
    audit.add_argument(
        "--max-levels",
        type=_positive,
        default=DEFAULT_MAX_LEVELS,
        metavar="N",
        help=f"most distinct values a protected column may have (default {DEFAULT_MAX_LEVELS})",
    )
    audit.add_argument(
        "--no-combination",
        action="store_true",
        help="skip the classifier on all features together",
    )
    audit.add_argument(
        "--all", action="store_true", help="list every (feature, attribute) on the terminal"
    )
    audit.add_argument(
        "--sample-rows",
        type=_positive,
        default=SAMPLE_ROWS,
        metavar="N",
        help=f"rows the classifier is fitted on, a uniform sample (default {SAMPLE_ROWS:,})",
    )
    audit.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    audit.add_argument(
        "--seed", type=int, default=0, help="seed of the permutation tests and the classifier"
    )
    audit.set_defaults(func=run_audit)
