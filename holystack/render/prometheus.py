"""prometheus.yml and the rule files."""
from __future__ import annotations

from functools import cache
from typing import Any

from .. import contract as c
from ..model import Duration, Stack, retention_needed
from ..output import Files, to_yaml
from .alerts import AlertFamily, families, rule_documents
from ..layout import AGENT_CONFIG, PROMETHEUS_CONFIG, PROMETHEUS_DIR, RULES_DIR
from .client_rules import client_rules
from .recording import cost_rules, daily_cost_rules, latency_rules, request_rules
from .slo import has_slo, slo_long_rules, slo_rules

# With remote_write: the same scraping for `prometheus --enable-feature=agent`, which refuses rules
# and Alertmanagers; a ruler next to the remote store evaluates the rules.
AGENT_REFUSES = ("alerting", "rule_files")
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


def retention(stack: Stack) -> Duration:
    """The retention the rendered stack needs (model.retention_needed, the one definition)."""
    return retention_needed(stack.slo.period)


def rule_files(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    """File name (under prometheus/rules/) -> its rule groups. Cached: several renderers
    read it; treat the result as read-only."""
    return _rule_files(stack, families())


@cache
def _rule_files(stack: Stack, in_force: tuple[AlertFamily, ...]) -> dict[str, list[dict[str, Any]]]:
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
    if has_slo(stack):
        files[f"{stack.name}-slo.yml"] = [
            {"name": f"{stack.name}-slo", "interval": evaluation, "rules": slo_rules(stack)},
            {"name": f"{stack.name}-slo-long", "interval": slow, "rules": slo_long_rules(stack)}]
    files[f"{stack.name}-client.yml"] = [
        {"name": f"{stack.name}-client", "interval": evaluation, "rules": client_rules(stack)}]
    files[f"{stack.name}-alerts.yml"] = [
        {"name": f"{stack.name}-alerts", "interval": evaluation,
         "rules": rule_documents(stack)}]
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
        entry: dict[str, Any] = {"job_name": job.name, "scrape_interval": str(job.interval), **_timeout(job.interval),
                                 "metrics_path": job.metrics_path, "scheme": job.scheme}
        if job.authorization is not None:
            entry["authorization"] = {"type": job.authorization.type,
                                      "credentials_file": job.authorization.credentials_file}
        entry["static_configs"] = [{"targets": list(job.targets)}]
        scrape.append(entry)
    config["scrape_configs"] = scrape
    if stack.scale_out.remote_write:
        config["remote_write"] = remote_write_configs(stack)
    return config


def remote_series(stack: Stack) -> list[str]:
    """What a remote store needs for the rules, alerts and dashboards: the contract's series, every
    recorded series, up (TargetDown, MetricsAbsent, the counter steps) and the targets' process start
    time (the counter steps)."""
    recorded = {rule["record"] for groups in rule_files(stack).values() for group in groups
                for rule in group["rules"] if "record" in rule}
    return sorted(stack.source.series_names() | recorded | {"up", c.PROCESS_START})


def remote_write_configs(stack: Stack) -> list[dict[str, Any]]:
    """The spec's remote_write entries; credentials only as files, and only remote_series() sent
    unless send_everything."""
    out = []
    for remote in stack.scale_out.remote_write:
        entry: dict[str, Any] = {"url": remote.url}
        if remote.name:
            entry["name"] = remote.name
        if remote.password_file:
            entry["basic_auth"] = {"username": remote.username, "password_file": remote.password_file}
        if remote.bearer_token_file:
            entry["authorization"] = {"type": "Bearer", "credentials_file": remote.bearer_token_file}
        if remote.headers:
            entry["headers"] = dict(remote.headers)
        if remote.queue_config:
            entry["queue_config"] = dict(remote.queue_config)
        if not remote.send_everything:
            entry["write_relabel_configs"] = [{"source_labels": ["__name__"], "regex": "|".join(remote_series(stack)),
                                               "action": "keep"}]
        out.append(entry)
    return out


def agent_config(stack: Stack) -> dict[str, Any]:
    """prometheus.yml without what agent mode refuses: scrape and remote-write only."""
    config = {key: value for key, value in prometheus_config(stack).items() if key not in AGENT_REFUSES}
    config["global"] = {k: v for k, v in config["global"].items() if k != "evaluation_interval"}
    return config


def render_prometheus(stack: Stack) -> Files:
    files = {f"{PROMETHEUS_DIR}/{PROMETHEUS_CONFIG}": to_yaml(prometheus_config(stack), stack.source_name)}
    if stack.scale_out.remote_write:
        files[f"{PROMETHEUS_DIR}/{AGENT_CONFIG}"] = to_yaml(agent_config(stack), stack.source_name)
    for name, groups in rule_files(stack).items():
        files[f"{PROMETHEUS_DIR}/{RULES_DIR}/{name}"] = to_yaml({"groups": groups}, stack.source_name)
    return files
