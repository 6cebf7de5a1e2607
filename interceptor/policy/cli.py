"""``interceptor policy lint|test|explain``: policy authoring from the command line.

:func:`add_policy_commands` registers the commands on the main parser's subparsers; each command
sets ``func`` to a handler that takes the parsed arguments and returns the exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import orjson

from interceptor.consent import ConsentState
from interceptor.errors import ManifestError
from interceptor.manifests import Manifest, parse_manifest
from interceptor.policy.batch import ProxyReading
from interceptor.policy.conditions import parse_time
from interceptor.policy.errors import PolicyError
from interceptor.policy.explain import explain
from interceptor.policy.loader import load_bundle
from interceptor.policy.testing import run_policy_tests
from interceptor.records import FeatureRecord

__all__ = ["add_policy_commands", "run_explain", "run_lint", "run_test"]


def run_lint(paths: Sequence[Path], out: TextIO | None = None) -> int:
    """Print every problem as ``file:line:col: message``, or one OK line per bundle."""
    out = out or sys.stdout
    status = 0
    for path in paths:
        try:
            bundle = load_bundle(path)
        except PolicyError as exc:
            status = 1
            for line in exc.diagnostics:
                print(line, file=out)
            continue
        files = len(bundle.source_files)
        print(
            f"{path}: OK, {len(bundle.rules)} rules in {files} files, hash {bundle.hash}", file=out
        )
    return status


def run_test(paths: Sequence[Path], *, verbose: bool = False, out: TextIO | None = None) -> int:
    """Run each policy directory's ``tests/``; fail on any failure or uncovered rule."""
    out = out or sys.stdout
    status = 0
    for path in paths:
        report = run_policy_tests(path)
        for line in report.lines(verbose=verbose):
            print(line, file=out)
        status |= 0 if report.ok else 1
    return status


def _json_argument(text: str) -> Any:
    """Inline JSON, or ``@file`` for JSON read from a file."""
    data = Path(text[1:]).read_bytes() if text.startswith("@") else text.encode("utf-8")
    return orjson.loads(data)


def _load_manifest(path: Path) -> Manifest:
    return parse_manifest(path.read_text(encoding="utf-8"), str(path))


def run_explain(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the decision for one record, with every rule that matched and why, as JSON."""
    out = out or sys.stdout
    try:
        bundle = load_bundle(args.policies)
        manifest = _load_manifest(args.manifest)
        record_data = _json_argument(args.record)
        if isinstance(record_data, dict):
            record_data.setdefault("transformation", manifest.id)
            record_data.setdefault("version", manifest.version)
        record = FeatureRecord.model_validate(record_data)
        consent_data = _json_argument(args.consent) if args.consent else None
        consent = ConsentState.model_validate(consent_data) if consent_data is not None else None
        proxy_data = _json_argument(args.proxy) if args.proxy else {}
        proxy = {name: ProxyReading(**reading) for name, reading in proxy_data.items()}
        now = parse_time(args.now) if args.now else None
        if args.now and now is None:
            raise ValueError(f"--now {args.now!r} is not an RFC 3339 time with an offset")
    except (PolicyError, ManifestError) as exc:
        for line in exc.diagnostics:
            print(line, file=sys.stderr)
        return 1
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    result = explain(bundle, manifest, record, consent, now=now, proxy=proxy)
    out.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n")
    return 0


def add_policy_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``policy lint|test|explain``; each sets ``func(args) -> exit status``."""
    policy = subparsers.add_parser("policy", help="lint, test and explain policy rules")
    commands = policy.add_subparsers(dest="policy_command", required=True)

    lint = commands.add_parser("lint", help="check policy directories; print file:line:col errors")
    lint.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    lint.set_defaults(func=lambda args: run_lint(args.paths))

    test = commands.add_parser("test", help="run each policy directory's tests/ with coverage")
    test.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    test.add_argument("-v", "--verbose", action="store_true", help="list passing cases too")
    test.set_defaults(func=lambda args: run_test(args.paths, verbose=args.verbose))

    explain_cmd = commands.add_parser("explain", help="decide one record and say why, as JSON")
    explain_cmd.add_argument("--policies", type=Path, required=True, metavar="DIR")
    explain_cmd.add_argument("--manifest", type=Path, required=True, metavar="FILE")
    explain_cmd.add_argument("--record", required=True, metavar="JSON", help="JSON or @file")
    explain_cmd.add_argument("--consent", metavar="JSON", help="JSON or @file; omit if unknown")
    explain_cmd.add_argument(
        "--proxy", metavar="JSON", help='{"feature": {"score": s, "flagged": b, "status": t}}'
    )
    explain_cmd.add_argument("--now", metavar="RFC3339", help="decision time (default: now)")
    explain_cmd.set_defaults(func=run_explain)
