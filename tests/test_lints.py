"""Every check of holystack's own lint, shown failing on a bad input with its exact message, and
passing on the rendered stack."""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from holystack import load_stack, render_files
from holystack.checks import rules_lint
from holystack.checks.dashboards_lint import lint_dashboard, lint_dashboards
from holystack.checks.rules_lint import RuleSet, lint_rules
from holystack.model import Stack

from .conftest import EXAMPLE

PATH = "rules/bad.yml"


@pytest.fixture(scope="module")
def stack() -> Stack:
    return load_stack(EXAMPLE)  # slowest scrape 10s: rate windows of at least 40s


def _rules(*rules: dict[str, Any]) -> RuleSet:
    return RuleSet({PATH: {"groups": [{"name": "bad", "rules": list(rules)}]}})


def _alert(expr: str, **extra: Any) -> dict[str, Any]:
    rule = {"alert": "HolySheepBad", "expr": expr, "labels": {"severity": "warning"},
            "annotations": {"summary": "Something is wrong.", "description": "{{ $value | humanize }} of it."}}
    rule.update(extra)
    return rule


def test_the_rendered_rules_pass_every_check(stack: Stack) -> None:
    files = render_files(EXAMPLE)
    documents = {p: yaml.safe_load(t) for p, t in files.items() if p.startswith("prometheus/rules/")}
    assert all(r.status == "pass" for r in lint_rules(stack, documents))


def test_an_expression_that_does_not_parse_is_named() -> None:
    rules = _rules({"record": "x:y:z", "expr": "sum(("})
    assert len(rules.parse_errors) == 1 and rules.parse_errors[0].startswith(f"{PATH}: x:y:z: ")


@pytest.mark.parametrize("check, rule, message", [
    (rules_lint.check_rate_windows, {"record": "a:holysheep_requests:rate30s", "expr": "rate(holysheep_requests_total[30s])"},
     f"{PATH}: a:holysheep_requests:rate30s: rate(holysheep_requests_total[30s]) spans fewer than 4 scrapes of 10s"),
    (rules_lint.check_rate_windows, {"record": "a:b:c", "expr": "rate(holysheep_ratelimit_limit[5m])"},
     f"{PATH}: a:b:c: rate() of holysheep_ratelimit_limit, which is not a counter"),
    (rules_lint.check_rate_windows, {"record": "a:b:c", "expr": "rate(sum(holysheep_requests_total)[5m:1m])"},
     f"{PATH}: a:b:c: rate() over a subquery or expression; apply it to a raw counter"),
    (rules_lint.check_known_metrics, {"record": "a:b:c", "expr": "sum(holysheep_request_total)"},
     f"{PATH}: a:b:c: reads holysheep_request_total, which is neither in the metric contract nor recorded by the stack"),
    (rules_lint.check_comparisons, _alert("sum(holysheep_requests_total)"),
     f"{PATH}: HolySheepBad: the expression has no comparison, so it fires on any result"),
    (rules_lint.check_comparisons, _alert("vector(1)"),
     f"{PATH}: HolySheepBad: the expression has no comparison, so it fires on any result"),
    (rules_lint.check_absent_for, _alert("absent(holysheep_requests_total)", **{"for": "10s"}),
     f"{PATH}: HolySheepBad: absent() needs a for: of at least 20s, or one missed scrape fires it"),
    (rules_lint.check_fragile, _alert("topk(3, holysheep_requests_total) > 1"),
     f"{PATH}: HolySheepBad: topk() in an alert makes its series set unstable"),
    (rules_lint.check_names_and_severities, _alert("up == 0", alert="holysheep_bad"),
     f"{PATH}: holysheep_bad: alert names are CamelCase and start with HolySheep"),
    (rules_lint.check_names_and_severities, _alert("up == 0", labels={"severity": "page"}),
     f"{PATH}: HolySheepBad: severity 'page' is not one of critical, warning, info, none"),
    (rules_lint.check_annotations, _alert("up == 0", annotations={"summary": "Down."}),
     f"{PATH}: HolySheepBad: needs both a summary and a description"),
    (rules_lint.check_annotations, _alert("up == 0", annotations={"summary": "{{ $labels.job }} is down.",
                                                                 "description": "Down."}),
     f"{PATH}: HolySheepBad: the summary should be a static sentence; put values in the description"),
    (rules_lint.check_annotations, _alert("up == 0", annotations={"summary": "Down.",
                                                                 "description": "{{ $value | title }}"}),
     f"{PATH}: HolySheepBad: description uses template actions outside the proven subset: ['$value | title']"),
    (rules_lint.check_annotations, _alert("up == 0", annotations={"summary": "Down.", "description": "{{ $value }}"}),
     f"{PATH}: HolySheepBad: description shows $value raw; humanize it"),
], ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
def test_each_rule_check_fails_with_its_message(stack: Stack, check: Any, rule: dict[str, Any], message: str) -> None:
    assert check(stack, _rules(rule)) == [message]


def test_the_watchdog_alone_may_be_a_constant(stack: Stack) -> None:
    assert rules_lint.check_comparisons(stack, _rules(_alert("vector(1)", alert="HolySheepWatchdog"))) == []


@pytest.fixture(scope="module")
def overview() -> tuple[str, dict[str, Any], set[str]]:
    files = render_files(EXAMPLE)
    recorded = RuleSet({p: yaml.safe_load(t) for p, t in files.items() if p.startswith("prometheus/rules/")}).recorded
    return "holysheep-overview.json", json.loads(files["grafana/dashboards/holysheep-overview.json"]), recorded


def _first_panel(dashboard: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in dashboard["panels"] if p.get("targets"))


def _break(dashboard: dict[str, Any], how: str) -> dict[str, Any]:
    bad = copy.deepcopy(dashboard)
    panel = _first_panel(bad)
    if how == "datasource variable":
        bad["templating"]["list"] = [v for v in bad["templating"]["list"] if v["name"] != "datasource"]
    elif how == "model variable":
        bad["templating"]["list"] = [v for v in bad["templating"]["list"] if v["name"] != "model"]
    elif how == "title":
        bad["title"] = ""
    elif how == "uid":
        bad["uid"] = "random-uid"
    elif how == "panel ids":
        panel["id"] = bad["panels"][0]["id"]
    elif how == "panel datasource":
        panel["datasource"] = {"type": "prometheus", "uid": "prometheus"}
    elif how == "unit":
        panel["fieldConfig"]["defaults"].pop("unit")
    elif how == "query datasource":
        panel["targets"][0]["datasource"] = "Prometheus"
    elif how == "parse":
        panel["targets"][0]["expr"] = "sum(("
    elif how == "rate interval":
        panel["targets"][0]["expr"] = "sum(rate(holysheep_requests_total[5m]))"
    elif how == "fixed window":
        panel["targets"][0]["expr"] = "sum(increase(holysheep_requests_total[1h]))"
    elif how == "unknown metric":
        panel["targets"][0]["expr"] = "sum(holysheep_calls)"
    elif how == "schema version":
        bad["schemaVersion"] = 12
    elif how == "panel type":
        panel["type"] = "graph"
    elif how == "variable datasource":
        next(v for v in bad["templating"]["list"] if v["name"] == "model")["datasource"] = None
    elif how == "bar gauge table":
        next(p for p in _all_panels(bad) if p["type"] == "bargauge")["targets"][0]["format"] = "table"
    elif how == "variable metric":
        next(v for v in bad["templating"]["list"] if v["name"] == "model")["query"] = "label_values(nope, model)"
    return bad


DASHBOARD_BREAKS = {
    "datasource variable": "no 'datasource' data source variable",
    "model variable": "no 'model' variable",
    "title": "no title",
    "uid": "uid 'random-uid' is not a stable uid derived from the spec name",
    "panel ids": "panel id 1 is used more than once",
    "panel datasource": "panel '{title}' does not use the $datasource variable",
    "unit": "panel '{title}' has no unit",
    "query datasource": "a query of '{title}' does not use the $datasource variable",
    "parse": "a query of '{title}' does not parse: ",
    "rate interval": "'{title}' uses rate() without $__rate_interval",
    "fixed window": "'{title}' uses increase() over a fixed window; use a Grafana interval",
    "unknown metric": "'{title}' reads holysheep_calls, which is neither in the contract nor recorded",
    "variable metric": "variable 'model' reads no known metric",
    "schema version": "schemaVersion 12, not 42 (what Grafana 12 and 13 write)",
    "panel type": "panel '{title}' is of type 'graph', not one of Grafana's current bargauge, gauge, row, stat, "
                  "table, text, timeseries",
    "variable datasource": "variable 'model' does not use the $datasource variable",
    "bar gauge table": "bar gauge '{bar_gauge}' queries in table form, which Grafana reduces to one bar; use time_series",
}


def _all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for top in dashboard["panels"] for p in [top, *top.get("panels", [])]]


def test_the_rendered_dashboards_pass(stack: Stack, overview: tuple[str, dict[str, Any], set[str]]) -> None:
    path, dashboard, recorded = overview
    assert lint_dashboard(stack, path, dashboard, recorded) == []


@pytest.mark.parametrize("how", list(DASHBOARD_BREAKS))
def test_each_dashboard_check_fails_with_its_message(stack: Stack, overview: tuple[str, dict[str, Any], set[str]],
                                                      how: str) -> None:
    path, dashboard, recorded = overview
    bad = _break(dashboard, how)
    bar_gauge = next(p["title"] for p in _all_panels(bad) if p["type"] == "bargauge")
    expected = f"{path}: " + DASHBOARD_BREAKS[how].format(title=_first_panel(bad)["title"], bar_gauge=bar_gauge)
    findings = lint_dashboard(stack, path, bad, recorded)
    assert any(f == expected or (how == "parse" and f.startswith(expected)) for f in findings), findings


def test_no_dashboards_and_twice_the_same_uid_fail(stack: Stack, overview: tuple[str, dict[str, Any], set[str]]) -> None:
    _, dashboard, recorded = overview
    assert lint_dashboards(stack, {}, recorded)[0].findings == ("no dashboards in grafana/dashboards/",)
    twice = lint_dashboards(stack, {"a.json": dashboard, "b.json": dashboard}, recorded)[0]
    assert "dashboard uid 'holysheep-overview' is used twice" in twice.findings
