"""holystack's own dashboard checks, in the spirit of grafana/dashboard-linter."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..identifiers import MAX_UID_LENGTH, dashboard_uid
from ..model import Stack
from ..render.grafana_schema import CURRENT_PANEL_TYPES, SCHEMA_VERSION
from ..render.panels import DATASOURCE_VAR, FILTER_VARIABLES, RATE_INTERVAL
from . import promql_ast as ast
from .result import CheckResult

# Grafana's interval variables, replaced by distinct durations so the parser sees PromQL.
GRAFANA_INTERVALS = {"$__rate_interval": "7777s", "$__interval": "7778s", "$__range": "7779s"}
RATE_INTERVAL_STANDIN = GRAFANA_INTERVALS[RATE_INTERVAL]
DATASOURCE_REF = "${%s}" % DATASOURCE_VAR


def substitute(expr: str) -> str:
    """The query with Grafana's interval variables replaced; other $variables sit in strings."""
    for variable, standin in GRAFANA_INTERVALS.items():
        expr = expr.replace(variable, standin)
    return expr


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def targets(dashboard: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for panel in panels(dashboard):
        for target in panel.get("targets") or []:
            yield panel.get("title", "?"), target


def _uses_datasource_var(datasource: Any) -> bool:
    return isinstance(datasource, dict) and datasource.get("uid") == DATASOURCE_REF


def lint_dashboard(stack: Stack, path: str, dashboard: dict[str, Any], recorded: set[str]) -> list[str]:
    findings: list[str] = []
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    if variables.get(DATASOURCE_VAR, {}).get("type") != "datasource":
        findings.append(f"{path}: no '{DATASOURCE_VAR}' data source variable")
    for name in FILTER_VARIABLES:
        if name not in variables:
            findings.append(f"{path}: no '{name}' variable")
    if not dashboard.get("title"):
        findings.append(f"{path}: no title")
    if dashboard.get("schemaVersion") != SCHEMA_VERSION:
        findings.append(f"{path}: schemaVersion {dashboard.get('schemaVersion')}, not {SCHEMA_VERSION} "
                        "(what Grafana 12 and 13 write)")
    uid = dashboard.get("uid") or ""
    if not uid.startswith(dashboard_uid(stack, "")) or len(uid) > MAX_UID_LENGTH:
        findings.append(f"{path}: uid {uid!r} is not a stable uid derived from the spec name")
    ids = [p.get("id") for p in panels(dashboard)]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}, key=str):
        findings.append(f"{path}: panel id {duplicate} is used more than once")
    known = stack.source.readable_series(recorded)
    for panel in panels(dashboard):
        title = panel.get("title", "?")
        if panel.get("type") not in CURRENT_PANEL_TYPES:
            findings.append(f"{path}: panel '{title}' is of type {panel.get('type')!r}, not one of Grafana's "
                            f"current {', '.join(sorted(CURRENT_PANEL_TYPES))}")
        if panel.get("type") == "row":
            continue
        if not _uses_datasource_var(panel.get("datasource")):
            findings.append(f"{path}: panel '{title}' does not use the ${DATASOURCE_VAR} variable")
        if not (panel.get("fieldConfig", {}).get("defaults", {}).get("unit")):
            findings.append(f"{path}: panel '{title}' has no unit")
        if panel.get("type") == "bargauge" and any(t.get("format") == "table" for t in panel.get("targets") or []):
            findings.append(f"{path}: bar gauge '{title}' queries in table form, which Grafana reduces to one bar; "
                            "use time_series")
    for title, target in targets(dashboard):
        expr = target.get("expr", "")
        if not _uses_datasource_var(target.get("datasource")):
            findings.append(f"{path}: a query of '{title}' does not use the ${DATASOURCE_VAR} variable")
        try:
            tree = ast.parse(substitute(expr))
        except ValueError as exc:
            findings.append(f"{path}: a query of '{title}' does not parse: {exc}")
            continue
        for function, argument in ast.range_calls(tree):
            window = f"{int(argument.range.total_seconds())}s" if ast.kind(argument) == "MatrixSelector" else ""
            if function in ("rate", "irate") and window != RATE_INTERVAL_STANDIN:
                findings.append(f"{path}: '{title}' uses {function}() without {RATE_INTERVAL}")
            elif window not in GRAFANA_INTERVALS.values():
                findings.append(f"{path}: '{title}' uses {function}() over a fixed window; use a Grafana interval")
        for name in sorted(ast.selector_names(tree) - known):
            findings.append(f"{path}: '{title}' reads {name}, which is neither in the contract nor recorded")
    for name, variable in variables.items():
        query = variable.get("query")
        if variable.get("type") == "query":
            if not _uses_datasource_var(variable.get("datasource")):
                findings.append(f"{path}: variable '{name}' does not use the ${DATASOURCE_VAR} variable")
            metric = re.match(r"label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)", str(query or ""))
            if not metric or metric.group(1) not in known:
                findings.append(f"{path}: variable '{name}' reads no known metric")
    return findings


def lint_dashboards(stack: Stack, dashboards: dict[str, dict[str, Any]], recorded: set[str]) -> list[CheckResult]:
    findings = [f for path, d in sorted(dashboards.items()) for f in lint_dashboard(stack, path, d, recorded)]
    uids = [d.get("uid") for d in dashboards.values()]
    findings += [f"dashboard uid {u!r} is used twice" for u in sorted({u for u in uids if uids.count(u) > 1})]
    count = sum(1 for d in dashboards.values() for _ in targets(d))
    if not dashboards:
        findings.append("no dashboards in grafana/dashboards/")
    return [CheckResult.from_findings("dashboards (datasource var, units, $__rate_interval, uids, schema)", findings,
                                      f"{len(dashboards)} dashboard(s), {count} queries")]
