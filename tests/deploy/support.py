"""Helpers for the deployment tests: dashboard queries, PromQL variables, a Prometheus client."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

DASHBOARD_DIR = REPO / "grafana" / "dashboards"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = REPO / "deploy" / "prometheus" / "tests"

#: Grafana's own variables, replaced by values a test Prometheus understands.
BUILTIN_VALUES = {"__rate_interval": "1m", "__range": "1h", "__interval": "15s"}
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")
_METRIC = re.compile(r"\b(interceptor_[a-z_]+|up)\b")


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    expr: str

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel}: {self.expr}"


def dashboards() -> dict[str, dict[str, Any]]:
    """File name → parsed JSON of every committed dashboard."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows hold their panels


def panel_queries() -> list[PanelQuery]:
    found = []
    for name, model in dashboards().items():
        for panel in panels(model):
            for target in panel.get("targets", []):
                found.append(PanelQuery(name, panel["title"], target["expr"]))
    return found


def variables(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in model.get("templating", {}).get("list", [])}


def referenced_variables(expr: str) -> set[str]:
    return {a or b for a, b in _VARIABLE.findall(expr)}


def substitute(expr: str) -> str:
    """``expr`` as Grafana would send it with every template variable on "All"."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return BUILTIN_VALUES.get(name, ".*")

    return _VARIABLE.sub(value, expr)


def metrics_in(expr: str) -> set[str]:
    """Metric names an expression reads (label names and values are not metric names)."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_selectors = re.sub(r"\{[^}]*\}", "{}", without_strings)
    return {m for m in _METRIC.findall(without_selectors) if not m.endswith("_")}


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


class Prometheus:
    """The few HTTP API calls the tests make."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: str) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
                body: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as err:
            body = json.loads(err.read())
        return body

    def query(self, expr: str) -> dict[str, Any]:
        """The full API answer: ``status`` is ``success`` or ``error`` (with ``error``)."""
        return self.get("/api/v1/query", query=expr)

    def series(self, expr: str) -> list[dict[str, Any]]:
        answer = self.query(expr)
        assert answer["status"] == "success", f"{expr}: {answer.get('error')}"
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def value(self, expr: str) -> float | None:
        result = self.series(expr)
        return float(result[0]["value"][1]) if result else None


def write_yaml(path: Path, document: object) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path
