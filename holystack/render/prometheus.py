"""prometheus.yml and the rule files."""
from __future__ import annotations

from functools import cache
from typing import Any

from ..model import Duration, Stack
from ..output import Files, to_yaml
from .alerts import alert_rules, rule_document
from .recording import cost_rules, daily_cost_rules, latency_rules, request_rules
from .slo import slo_endpoints, slo_long_rules, slo_rules

PROMETHEUS_DIR = "prometheus"
PROMETHEUS_CONFIG = "prometheus.yml"  # in PROMETHEUS_DIR
RULES_DIR = "rules"
# Prometheus' default scrape timeout; it must not exceed the scrape interval.
DEFAULT_SCRAPE_TIMEOUT = Duration(10_000)
# Rules that read a day or more of samples (24h cost, long SLO windows) run every
# SLOW_GROUP_EVALUATIONS evaluation intervals, at most once a minute (1m for the usual 15s).
SLOW_GROUP_MAX_INTERVAL = Duration(60_000)
SLOW_GROUP_EVALUATIONS = 4
# Prometheus keeps samples this long only when told (its default is 15d): the rules read the SLO
# period (30d) of recorded steps, and the cost dashboard a whole month. The flag goes on the
# command line (prometheus.yml cannot set it); `holystack up` passes it, OUT/README.md states it.
RETENTION_FLAG = "--storage.tsdb.retention.time"
LONGEST_MONTH = Duration(31 * 24 * 3600 * 1000)
RETENTION_MARGIN = Duration(24 * 3600 * 1000)


def retention(stack: Stack) -> Duration:
    """The retention the rendered stack needs: its longest window (the SLO period, or a month of
    spend), and a day more, so that the oldest step of a window is still there when it is read."""
    return Duration(max(stack.slo.period.ms, LONGEST_MONTH.ms) + RETENTION_MARGIN.ms)


@cache
def rule_files(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """File name (under prometheus/rules/) -> its rule groups. Cached: several renderers
    read it; treat the result as read-only."""
    evaluation = str(stack.evaluation_interval)
    every = stack.evaluation_interval.ms
    slow = str(Duration(max(every, min(SLOW_GROUP_MAX_INTERVAL.ms, SLOW_GROUP_EVALUATIONS * every))))
    files = {
        f"{stack.name}-requests.yml": [
            {"name": f"{stack.name}-requests", "interval": evaluation, "rules": request_rules(stack)},
            {"name": f"{stack.name}-latency", "interval": evaluation, "rules": latency_rules(stack)}],
        f"{stack.name}-cost.yml": [
            {"name": f"{stack.name}-cost", "interval": evaluation, "rules": cost_rules(stack)},
            {"name": f"{stack.name}-cost-daily", "interval": slow, "rules": daily_cost_rules(stack)}],
    }
    if slo_endpoints(stack):
        files[f"{stack.name}-slo.yml"] = [
            {"name": f"{stack.name}-slo", "interval": evaluation, "rules": slo_rules(stack)},
            {"name": f"{stack.name}-slo-long", "interval": slow, "rules": slo_long_rules(stack)}]
    files[f"{stack.name}-alerts.yml"] = [
        {"name": f"{stack.name}-alerts", "interval": evaluation,
         "rules": [rule_document(stack, rule) for rule in alert_rules(stack)]}]
    return files


def _timeout(interval: Duration) -> dict[str, str]:
    return {"scrape_timeout": str(interval)} if interval.ms < DEFAULT_SCRAPE_TIMEOUT.ms else {}


def prometheus_config(stack: Stack) -> dict[str, Any]:
    config: dict[str, Any] = {
        "global": {"scrape_interval": str(stack.scrape_interval), **_timeout(stack.scrape_interval),
                   "evaluation_interval": str(stack.evaluation_interval)},
    }
    if stack.alerting.alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(stack.alerting.alertmanagers)}]}]}
    config["rule_files"] = [f"{RULES_DIR}/{name}" for name in rule_files(stack)]
    scrape = [{"job_name": name, "static_configs": [{"targets": list(targets)}]} for name, targets in stack.self_jobs]
    for job in stack.jobs:
        scrape.append({"job_name": job.name, "scrape_interval": str(job.interval), **_timeout(job.interval),
                       "metrics_path": job.metrics_path, "scheme": job.scheme,
                       "static_configs": [{"targets": list(job.targets)}]})
    config["scrape_configs"] = scrape
    return config


def render_prometheus(stack: Stack) -> Files:
    files = {f"{PROMETHEUS_DIR}/{PROMETHEUS_CONFIG}": to_yaml(prometheus_config(stack), stack.source_name)}
    for name, groups in rule_files(stack).items():
        files[f"{PROMETHEUS_DIR}/{RULES_DIR}/{name}"] = to_yaml({"groups": groups}, stack.source_name)
    return files
