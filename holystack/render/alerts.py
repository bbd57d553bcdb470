"""Alert rules: one function per kind, each reading thresholds and names from the model."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from .. import contract as c
from ..model import Duration, Levels, Stack
from ..promql import SECONDS_PER_HOUR, alternation, matcher, number, one_of, selector
from ..series import COST_DASHBOARD, OVERVIEW_DASHBOARD, P95, QUANTILE, SLO_DASHBOARD, Series, dashboard_url
from .recording import month_forecast
from .text import annotation

SEVERITY = "severity"
SEVERITIES = ("critical", "warning", "info", "none")

# Kinds of alert, with the label sets they keep (besides severity).
RATIO_KINDS = {  # kind -> (status class, thresholds attribute, comparison)
    "RateLimitRatioHigh": ("rate_limited", "rate_limit_ratio", ">"),
    "ServerErrorRatioHigh": ("server_error", "server_error_ratio", ">"),
    "TimeoutRatioHigh": ("timeout", "timeout_ratio", ">"),
    "SuccessRatioLow": ("success", "success_ratio", "<"),
}


@dataclass(frozen=True)
class AlertRule:
    kind: str
    severity: str
    expr: str
    for_: Duration
    context: dict[str, Any] = field(default_factory=dict, hash=False)
    # The threshold the expression compares with, for generated tests; None when it has none.
    threshold: float | None = None
    # The endpoint a per-endpoint rule covers; None for rules over every endpoint.
    endpoint: str | None = None
    # Static labels besides severity (the windows of a burn-rate alert).
    labels: tuple[tuple[str, str], ...] = ()


def _percent(value: float) -> str:
    return f"{value * 100:g}%"


def _seconds(value: float) -> str:
    return str(Duration(round(value * 1000)))


def _ratio_alerts(stack: Stack, s: Series) -> list[AlertRule]:
    rules = []
    for kind, (status_class, attribute, op) in RATIO_KINDS.items():
        levels: Levels = getattr(stack.thresholds, attribute)
        for severity, threshold in levels.levels:
            rules.append(AlertRule(
                kind, severity, f"{s.ratio(status_class)} {op} {number(threshold)}", levels.for_,
                {"threshold": _percent(threshold), "window": str(stack.rate_window)}, threshold))
    return rules


def latency_thresholds(stack: Stack) -> tuple[list[tuple[str, float]], float | None]:
    """(endpoint, seconds) for endpoints with their own latency_p95, and the default."""
    overrides = [(e.path, stack.latency_p95_of(e)) for e in stack.endpoints if e.latency_p95 is not None]
    return overrides, stack.thresholds.latency_p95.get("warning")


def _p95(quantiles: str) -> str:
    """The p95 series without its quantile label, so the alert keeps provider, endpoint, model."""
    return f"max without ({QUANTILE}) ({quantiles})"


def _latency_alerts(stack: Stack, s: Series) -> list[AlertRule]:
    levels = stack.thresholds.latency_p95
    overrides, default = latency_thresholds(stack)
    quantile = matcher(QUANTILE, P95)
    rules = []
    for path, seconds in overrides:
        expr = f"{_p95(selector(s.duration_quantile, quantile, matcher(c.ENDPOINT, path)))} > {number(seconds)}"
        rules.append(AlertRule("LatencyP95High", "warning", expr, levels.for_,
                               {"threshold": _seconds(seconds), "window": str(stack.rate_window)}, seconds, path))
    if default is not None:
        others = [quantile]
        if overrides:
            others.append(matcher(c.ENDPOINT, alternation(path for path, _ in overrides), "!~"))
        expr = f"{_p95(selector(s.duration_quantile, *others))} > {number(default)}"
        rules.append(AlertRule("LatencyP95High", "warning", expr, levels.for_,
                               {"threshold": _seconds(default), "window": str(stack.rate_window)}, default))
    return rules


def app_jobs_matcher(stack: Stack) -> str:
    return one_of("job", [job.name for job in stack.jobs])


def all_jobs(stack: Stack) -> list[str]:
    """Every job in prometheus.yml: the spec's, then Prometheus and Alertmanager themselves."""
    return [job.name for job in stack.jobs] + [name for name, _ in stack.self_jobs]


def _other_alerts(stack: Stack, s: Series) -> list[AlertRule]:
    t, p = stack.thresholds, stack.contract
    rules = []
    if t.daily_budget_usd is not None:
        rules.append(AlertRule("DailyBudgetExceeded", "warning", f"sum({s.cost_24h}) > {number(t.daily_budget_usd)}",
                               t.budget_for, {"threshold": f"${t.daily_budget_usd:g}"}, t.daily_budget_usd))
    if t.monthly_budget_usd is not None:
        # Month-to-date spend at the prices of the time, plus the rest of the month at the pace of
        # the last 24 hours: a whole daily cycle, so a busy afternoon does not look like a trend.
        forecast = month_forecast(s.cost_month_to_date, s.cost_24h)
        rules.append(AlertRule("MonthlyBudgetForecast", "warning", f"{forecast}\n> {number(t.monthly_budget_usd)}",
                               t.budget_for, {"threshold": f"${t.monthly_budget_usd:g}"}, t.monthly_budget_usd))
    for severity, per_hour in t.tokens_per_hour.levels:
        billable = matcher(c.TOKEN_TYPE, "|".join(c.BILLABLE_TOKEN_TYPES), "=~")
        expr = f"sum({selector(s.tokens, billable)}) * {SECONDS_PER_HOUR} > {number(per_hour)}"
        rules.append(AlertRule("TokenUsageHigh", severity, expr, t.tokens_per_hour.for_,
                               {"threshold": f"{per_hour:,.0f}"}, per_hour))
    up = selector("up", app_jobs_matcher(stack))
    rules.append(AlertRule(
        "MetricsAbsent", "warning", f"absent({p.requests.name}) and on () (sum({up}) > 0)", t.metrics_absent_for,
        {"jobs": ", ".join(job.name for job in stack.jobs), "metric": p.requests.name, "prefix": p.prefix}))
    rules.append(AlertRule("TargetDown", "critical", f"{selector('up', one_of('job', all_jobs(stack)))} == 0",
                           t.target_down_for, {"for": str(t.target_down_for)}))
    rules.append(AlertRule("Watchdog", "none", "vector(1)", Duration(0)))
    return rules


LONG_WINDOW, SHORT_WINDOW = "long_window", "short_window"
# The dashboard an alert links to, when not the overview.
KIND_DASHBOARDS = {"ErrorBudgetBurn": SLO_DASHBOARD, "DailyBudgetExceeded": COST_DASHBOARD,
                   "MonthlyBudgetForecast": COST_DASHBOARD}


def _burn_rate_alerts(stack: Stack, s: Series) -> list[AlertRule]:
    """ErrorBudgetBurn: both windows of a pair burn faster than its factor, and the long window
    holds at least slo.min_calls calls. Only endpoints with an availability have a burn rate."""
    if not any(e.availability is not None for e in stack.endpoints):
        return []
    rules = []
    for burn in stack.slo.burn_rates:
        long, short = str(burn.long_window), str(burn.short_window)
        factor = number(burn.factor)
        expr = (f"{s.error_budget_burn(long)} > {factor}\nand\n{s.error_budget_burn(short)} > {factor}\n"
                f"and on ({c.ENDPOINT})\n{s.endpoint_requests(long)} * {number(burn.long_window.seconds)}"
                f" >= {stack.slo.min_calls}")
        rules.append(AlertRule("ErrorBudgetBurn", burn.severity, expr, Duration(0),
                               {"factor": f"{burn.factor:g}", "long_window": long, "short_window": short,
                                "period": str(stack.slo.period), "min_calls": str(stack.slo.min_calls)},
                               burn.factor, labels=((LONG_WINDOW, long), (SHORT_WINDOW, short))))
    return rules


@cache
def alert_rules(stack: Stack) -> tuple[AlertRule, ...]:
    """Every alert of the stack, in a stable order."""
    s = Series(stack)
    return tuple(_ratio_alerts(stack, s) + _latency_alerts(stack, s) + _burn_rate_alerts(stack, s)
                 + _other_alerts(stack, s))


def annotations(stack: Stack, rule: AlertRule) -> dict[str, str]:
    """summary, description, dashboard_url and (when configured) runbook_url of an alert."""
    texts = annotation(stack.language, rule.kind, severity=rule.severity, **rule.context)
    out = {"summary": texts["summary"], "description": texts["description"],
           "dashboard_url": dashboard_url(stack, KIND_DASHBOARDS.get(rule.kind, OVERVIEW_DASHBOARD))}
    if stack.alerting.runbook_url:
        out["runbook_url"] = f"{stack.alerting.runbook_url.rstrip('/')}#{stack.alert_name(rule.kind).lower()}"
    return out


def rule_document(stack: Stack, rule: AlertRule) -> dict[str, Any]:
    """The alert as it stands in the rule file."""
    out: dict[str, Any] = {"alert": stack.alert_name(rule.kind), "expr": rule.expr}
    if rule.for_.ms:
        out["for"] = str(rule.for_)
    out["labels"] = {SEVERITY: rule.severity, **dict(rule.labels)}
    if rule.endpoint is not None:
        # Equal to the label the series already carries; it keeps per-endpoint rules of one
        # alert name distinct for promtool's duplicate-rule lint.
        out["labels"][c.ENDPOINT] = rule.endpoint
    out["annotations"] = annotations(stack, rule)
    return out
