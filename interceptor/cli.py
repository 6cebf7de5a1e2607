"""The ``interceptor`` command: one entry point for running, demonstrating and authoring."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["build_parser", "main"]


def _add_run(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser("run", help="run the stream processor")
    run.add_argument("--config", type=Path, help="YAML configuration file (DESIGN section 9)")
    run.set_defaults(func=_cmd_run)


def _add_demo(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo", help="the whole system on one machine, with synthetic traffic"
    )
    demo.add_argument("--records", type=int, default=20_000, help="feature records to stream")
    demo.add_argument("--entities", type=int, default=2_000, help="synthetic consumers")
    demo.add_argument("--bootstrap-servers", help="use this Kafka instead of the embedded broker")
    demo.add_argument("--metrics-port", type=int, default=9108, help="port for /metrics (0: any)")
    demo.add_argument("--summary-json", type=Path, help="write the final summary here")
    demo.add_argument("--keep-running", action="store_true", help="serve until Ctrl-C")
    demo.add_argument(
        "--produce-only",
        action="store_true",
        help="publish manifests, consent, audit panel and traffic, then exit: feed an "
        "interceptor that runs elsewhere (needs --bootstrap-servers)",
    )
    demo.add_argument("--policies", type=Path, default=Path("policies"))
    demo.add_argument("--manifests", type=Path, default=Path("examples/transformations"))
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=_cmd_demo)


def _add_broker(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    broker = subparsers.add_parser("broker", help="the embedded Kafka-compatible dev broker")
    broker.add_argument("--port", type=int, default=9092)
    broker.set_defaults(func=_cmd_broker)


def _add_transformations(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("transformations", help="transformation manifests")
    commands = group.add_subparsers(dest="transformations_command", required=True)
    check = commands.add_parser(
        "check", help="static verdict per manifest; non-zero exit if any would be blocked"
    )
    check.add_argument("--policies", type=Path, default=Path("policies"))
    check.add_argument("manifests", type=Path, nargs="+", help="manifest files or directories")
    check.set_defaults(func=_cmd_transformations_check)


def _cmd_run(args: argparse.Namespace) -> int:
    from interceptor.service import run_service

    return run_service(args.config)


def _cmd_demo(args: argparse.Namespace) -> int:
    from interceptor.demo.runner import DemoOptions, run_demo

    if args.produce_only and not args.bootstrap_servers:
        print("error: --produce-only needs --bootstrap-servers", file=sys.stderr)
        return 2
    options = DemoOptions(
        records=args.records,
        entities=args.entities,
        bootstrap_servers=args.bootstrap_servers,
        metrics_port=args.metrics_port,
        summary_json=args.summary_json,
        keep_running=args.keep_running,
        produce_only=args.produce_only,
        policies=args.policies,
        manifests=args.manifests,
        seed=args.seed,
    )
    return run_demo(options)


def _cmd_broker(args: argparse.Namespace) -> int:
    from interceptor.embedded import run_broker

    return run_broker(args.port)


def _cmd_transformations_check(args: argparse.Namespace) -> int:
    from interceptor.transformations_check import run_check

    return run_check(args.policies, args.manifests)


def build_parser() -> argparse.ArgumentParser:
    from interceptor.offline.cli import add_audit_command
    from interceptor.policy.cli import add_policy_commands

    parser = argparse.ArgumentParser(
        prog="interceptor",
        description="CCPA/CPRA policy and proxy checks between feature pipelines and the "
        "ad-targeting feature store.",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_run(subparsers)
    _add_demo(subparsers)
    _add_broker(subparsers)
    add_policy_commands(subparsers)
    _add_transformations(subparsers)
    add_audit_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    status: int = args.func(args)
    return status
