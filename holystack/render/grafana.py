"""Grafana: the dashboards (built with grafanalib) and the provisioning files that load them."""
from __future__ import annotations

import json
from functools import cache
from typing import Any

from grafanalib import core as g

from ..identifiers import COST_DASHBOARD, OVERVIEW_DASHBOARD, SLO_DASHBOARD, dashboard_uid, datasource_uid
from ..model import Stack
from ..output import Files, to_json, to_yaml
from .dashboard_cost import cost_dashboard
from .dashboard_overview import overview_dashboard
from .dashboard_slo import slo_dashboard
from .grafana_schema import current_schema
from ..layout import DASHBOARDS_DIR, GRAFANA_DIR
from .slo import slo_endpoints


def dashboards(stack: Stack) -> dict[str, g.Dashboard]:
    """Slug -> dashboard. The SLO dashboard exists when an endpoint has an availability."""
    boards = {OVERVIEW_DASHBOARD: overview_dashboard(stack), COST_DASHBOARD: cost_dashboard(stack)}
    if slo_endpoints(stack):
        boards[SLO_DASHBOARD] = slo_dashboard(stack)
    return boards


def provisioning_escaped(node: Any) -> Any:
    """A provisioning document with every string escaped for Grafana, which expands $VAR and ${VAR}
    in provisioning files: '$' is written '$$', so that a folder named 'Team $A' stays that name."""
    if isinstance(node, dict):
        return {key: provisioning_escaped(value) for key, value in node.items()}
    if isinstance(node, list):
        return [provisioning_escaped(item) for item in node]
    return node.replace("$", "$$") if isinstance(node, str) else node


def _json_data(node: Any) -> Any:
    """What grafanalib's DashboardEncoder does (its module imports argparse, a cost on every render)."""
    to_json_data = getattr(node, "to_json_data", None)
    if to_json_data is None:
        raise TypeError(f"{type(node).__name__} is not JSON serializable")
    return to_json_data()


def _dashboard_json(dashboard: g.Dashboard) -> str:
    data = json.loads(json.dumps(dashboard.to_json_data(), default=_json_data))
    return to_json(current_schema(data))


@cache
def render_grafana(stack: Stack) -> Files:
    """Cached: the Kubernetes output packs the same dashboards; treat the result as read-only."""
    settings = stack.dashboards
    files = {f"{DASHBOARDS_DIR}/{dashboard_uid(stack, slug)}.json": _dashboard_json(dashboard)
             for slug, dashboard in dashboards(stack).items()}
    datasources = {"apiVersion": 1, "datasources": [{
        "name": settings.datasource, "type": "prometheus", "uid": datasource_uid(stack), "access": "proxy",
        "url": settings.prometheus_url, "isDefault": True, "editable": False,
        # Grafana's $__rate_interval is at least 4x this.
        "jsonData": {"timeInterval": str(stack.slowest_scrape)},
    }]}
    providers = {"apiVersion": 1, "providers": [{
        "name": stack.name, "folder": settings.folder, "type": "file", "disableDeletion": True,
        "allowUiUpdates": False, "updateIntervalSeconds": 60, "options": {"path": settings.path},
    }]}
    files[f"{GRAFANA_DIR}/provisioning/datasources/{stack.name}.yaml"] = to_yaml(provisioning_escaped(datasources),
                                                                                 stack.source_name)
    files[f"{GRAFANA_DIR}/provisioning/dashboards/{stack.name}.yaml"] = to_yaml(provisioning_escaped(providers),
                                                                                stack.source_name)
    return files
