"""The Grafana dashboards: generated from code, complete, described, provisioned."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import yaml

from tests.conftest import REPO
from tests.deploy.support import (
    BUILTIN_VALUES,
    DASHBOARD_DIR,
    dashboards,
    panel_queries,
    panels,
    referenced_variables,
    variables,
)

GENERATOR = REPO / "grafana" / "generate_dashboards.py"
PROVISIONING = REPO / "grafana" / "provisioning"

#: Panels the issue asks for, by dashboard.
REQUIRED_PANELS = {
    "overview.json": {
        "Records by decision",
        "Block and flag ratios",
        "Dead-letter records by reason",
        "Consumer lag by topic",
        "Record latency (consumed → acknowledged)",
        "Policy bundle per instance",
        "Rejected policy reloads",
        "Instances up",
    },
    "compliance.json": {
        "Rule matches by rule",
        "Top blocked transformations",
        "Deletions applied",
        "Consent coverage",
        "Registration verdicts",
    },
    "proxy-detectors.json": {
        "Proxy score: feature × attribute",
        "Flagged features",
        "Samples per detector",
    },
}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_dashboards", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_regenerating_gives_the_committed_files_byte_for_byte() -> None:
    rendered: dict[str, str] = _generator().render_all()
    committed = {p.name: p.read_text(encoding="utf-8") for p in DASHBOARD_DIR.glob("*.json")}
    assert set(rendered) == set(committed), "run `make dashboards`"
    for name, text in rendered.items():
        assert committed[name] == text, f"grafana/dashboards/{name} is stale: run `make dashboards`"


def test_the_dashboards_have_the_required_panels_and_targets_grafana_11() -> None:
    models = dashboards()
    assert set(models) == set(REQUIRED_PANELS)
    assert len({m["uid"] for m in models.values()}) == len(models)
    for name, model in models.items():
        titles = {p["title"] for p in panels(model)}
        assert REQUIRED_PANELS[name] <= titles, REQUIRED_PANELS[name] - titles
        assert model["schemaVersion"] >= 39, "built with a Grafana 11 foundation SDK"
        assert "interceptor" in model["tags"]


def test_every_panel_has_a_description_a_newcomer_can_use() -> None:
    for name, model in dashboards().items():
        for panel in panels(model):
            if panel["type"] == "row":
                continue
            description = panel.get("description", "")
            assert len(description.split()) >= 12, f"{name} / {panel['title']}: {description!r}"
            assert panel.get("targets"), f"{name} / {panel['title']} has no query"


def test_queries_use_only_defined_variables_and_select_job_and_instance() -> None:
    models = dashboards()
    for query in panel_queries():
        defined = set(variables(models[query.dashboard])) | set(BUILTIN_VALUES)
        assert referenced_variables(query.expr) <= defined, str(query)
        if "interceptor_" in query.expr or "up{" in query.expr:
            assert 'job=~"$job"' in query.expr and 'instance=~"$instance"' in query.expr, str(query)
    for name, model in models.items():
        defined = variables(model)
        assert {"datasource", "job", "instance"} <= set(defined), name
        for variable in defined.values():
            query = variable.get("query")
            if variable["type"] == "query":
                assert referenced_variables(query) <= set(defined), f"{name}: {query}"


def test_panels_use_the_datasource_variable() -> None:
    for name, model in dashboards().items():
        for panel in panels(model):
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, name


def test_provisioning_points_at_the_dashboards_and_prometheus() -> None:
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yaml").read_text())
    (prometheus,) = datasources["datasources"]
    assert prometheus["type"] == "prometheus" and prometheus["isDefault"] is True
    assert prometheus["url"] == "http://prometheus:9090"  # the compose service
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "interceptor.yaml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


def test_panels_fit_the_grid_without_overlapping() -> None:
    for name, model in dashboards().items():
        taken: dict[tuple[int, int], str] = {}
        for panel in panels(model):
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{name} / {panel['title']} is too wide"
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    other = taken.setdefault((x, y), panel["title"])
                    assert other == panel["title"], f"{name}: {panel['title']} covers {other}"
