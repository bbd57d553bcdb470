"""The clean pass after grafanalib (holystack.render.grafana_schema): what it removes, what it
keeps, and that the rendered dashboards hold none of grafanalib's legacy keys."""
from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from holystack import render_files
from holystack.render.grafana_schema import (CURRENT_PANEL_TYPES, LEGACY_DASHBOARD_KEYS, LEGACY_PANEL_KEYS,
                                             LEGACY_TARGET_KEYS, ROW_KEYS, SCHEMA_VERSION, current_schema)
from holystack.layout import DASHBOARDS_DIR
from holystack.render.panels import DATASOURCE

from .conftest import CASES, EXAMPLE
from .helpers import rendered_files

SPECS = [EXAMPLE, *sorted(p / "spec.yaml" for p in CASES.iterdir() if (p / "spec.yaml").is_file())]
DASHBOARDS = {f"{spec.parent.name}/{path}": json.loads(text) for spec in SPECS
              for path, text in rendered_files(spec).items() if path.startswith(f"{DASHBOARDS_DIR}/")}


def _nulls(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if item is None:
                yield f"{path}/{key}"
            elif key != "steps":
                yield from _nulls(item, f"{path}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _nulls(item, f"{path}[{i}]")


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_a_rendered_dashboard_is_in_the_current_schema(name: str) -> None:
    dashboard = DASHBOARDS[name]
    assert dashboard["schemaVersion"] == SCHEMA_VERSION
    assert not LEGACY_DASHBOARD_KEYS & set(dashboard)
    assert list(_nulls(dashboard)) == []
    for panel in _panels(dashboard):
        assert panel["type"] in CURRENT_PANEL_TYPES
        if panel["type"] == "row":
            assert set(panel) == ROW_KEYS and panel["collapsed"] is False
            continue
        assert not LEGACY_PANEL_KEYS & set(panel), panel["title"]
        assert panel["datasource"] == DATASOURCE and "fieldConfig" in panel and "options" in panel
        if panel["type"] == "stat":
            assert "custom" not in panel["fieldConfig"]["defaults"]  # the stat panel has no custom field config
        for target in panel["targets"]:
            assert not LEGACY_TARGET_KEYS & set(target)
            assert target["datasource"] == DATASOURCE and target["range"] is not target["instant"]
    for variable in dashboard["templating"]["list"]:
        assert variable["type"] == "datasource" or variable["datasource"] == DATASOURCE


def test_the_data_source_variable_selects_the_provisioned_data_source() -> None:
    files = render_files(EXAMPLE)
    provisioned = files["grafana/provisioning/datasources/holysheep.yaml"]
    dashboard = json.loads(files[f"{DASHBOARDS_DIR}/holysheep-overview.json"])
    [variable] = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["name"] == "datasource" and variable["query"] == "prometheus"
    assert variable["current"]["value"] == "holysheep-prometheus"
    assert "uid: holysheep-prometheus\n" in provisioned


GRAFANALIB_LIKE = {
    "__inputs": [], "hideControls": False, "rows": [], "schemaVersion": SCHEMA_VERSION, "sharedCrosshair": False,
    "style": "dark", "gnetId": None, "id": None, "title": "t",
    "timepicker": {"hidden": False, "nowDelay": None, "refresh_intervals": ["1m"], "time_options": ["5m"]},
    "templating": {"list": [{"name": "v", "type": "query", "regex": None, "useTags": False, "tagsQuery": None,
                             "tagValuesQuery": None, "current": {"text": "a", "value": "a", "tags": []}}]},
    "panels": [
        {"type": "row", "title": "r", "datasource": None, "editable": True, "error": False, "span": None,
         "fieldConfig": {"defaults": {"thresholds": {"mode": "absolute", "steps": []}}}, "targets": [],
         "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0}, "id": 1, "panels": []},
        {"type": "bargauge", "title": "b", "editable": True, "error": False, "height": None, "minSpan": None,
         "fieldConfig": {"defaults": {"thresholds": {"steps": [{"color": "green", "value": None}]}}},
         "options": {"fieldOptions": {"calcs": ["mean"]}, "showThresholdLabels": False, "orientation": "horizontal"},
         "targets": [{"expr": "up", "query": "up", "target": "", "metric": "", "step": 10, "intervalFactor": 2,
                      "instant": True, "refId": "A"}]},
        {"type": "table", "title": "t", "color": {"mode": "thresholds"}, "columns": [], "fontSize": "100%",
         "mappings": [], "fieldConfig": {"defaults": {"custom": {"align": "auto", "displayMode": "auto"}}},
         "options": {"showHeader": True}, "targets": [{"expr": "up", "refId": "A"}]},
        {"type": "stat", "title": "s", "fieldConfig": {"defaults": {"custom": {}, "unit": "s"}, "overrides": []}},
    ],
}


def test_the_pass_removes_what_grafanalib_writes_and_grafana_migrates_away() -> None:
    before = copy.deepcopy(GRAFANALIB_LIKE)
    clean = current_schema(GRAFANALIB_LIKE)
    assert GRAFANALIB_LIKE == before, "the input is left as it is"
    assert clean == {
        "schemaVersion": SCHEMA_VERSION, "title": "t", "timepicker": {"hidden": False, "refresh_intervals": ["1m"]},
        "templating": {"list": [{"name": "v", "type": "query", "current": {"text": "a", "value": "a"}}]},
        "panels": [
            {"type": "row", "title": "r", "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0}, "id": 1,
             "panels": []},
            {"type": "bargauge", "title": "b",
             "fieldConfig": {"defaults": {"thresholds": {"steps": [{"color": "green", "value": None}]}}},
             "options": {"orientation": "horizontal"},
             "targets": [{"expr": "up", "instant": True, "range": False, "refId": "A"}]},
            {"type": "table", "title": "t", "fieldConfig": {"defaults": {"custom": {"align": "auto"}}},
             "options": {"showHeader": True}, "targets": [{"expr": "up", "refId": "A", "range": True}]},
            {"type": "stat", "title": "s", "fieldConfig": {"defaults": {"unit": "s"}, "overrides": []}},
        ],
    }


def test_the_pass_keeps_a_row_s_panels_and_cleans_them() -> None:
    collapsed = {"panels": [{"type": "row", "collapsed": True, "id": 1, "datasource": None, "panels": [
        {"type": "stat", "span": 4, "description": None, "targets": [{"expr": "up", "step": 10}]}]}]}
    assert current_schema(collapsed)["panels"] == [{"type": "row", "collapsed": True, "id": 1, "panels": [
        {"type": "stat", "targets": [{"expr": "up", "range": True}]}]}]
